using Engine.Core.Text;

namespace Engine.Models.Generation;

/// <summary>A tokenizer's <see cref="StreamingDetokenizer"/> as the text stream of a completion.</summary>
public sealed class DetokenizerTextStream(StreamingDetokenizer detokenizer) : ITokenTextStream
{
    public string Push(int tokenId) => detokenizer.Push(tokenId);
    public string Flush() => detokenizer.Flush();
}
