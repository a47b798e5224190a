namespace Engine.Models.Generation;

/// <summary>
/// Turns generated ids into text incrementally (a streaming detokenizer): <see cref="Push"/> returns
/// the text that is complete after this token (possibly empty while a UTF-8 character or a word
/// piece is incomplete); <see cref="Flush"/> returns whatever remains at the end.
/// </summary>
public interface ITokenTextStream
{
    string Push(int tokenId);
    string Flush();
}
