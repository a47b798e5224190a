namespace Engine.Core.Text;

/// <summary>
/// A token of tokenizer.json's <c>added_tokens</c>: matched in the raw text before any normalization
/// or pre-tokenization and emitted as one id. <see cref="Special"/> ones (BOS, EOS, chat markers) are
/// dropped by decoding with skipSpecialTokens. LStrip/RStrip absorb the whitespace beside a match.
/// </summary>
internal sealed record AddedToken(int Id, string Content, bool Special, bool LStrip, bool RStrip);
