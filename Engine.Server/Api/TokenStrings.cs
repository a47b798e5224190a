using System.Text;
using System.Text.Json.Nodes;
using Engine.Core.Sampling;
using Engine.Models;
using Engine.Models.Generation;

namespace Engine.Server.Api;

/// <summary>
/// Log-probabilities of one choice in OpenAI's two shapes: chat's content list and the legacy completions
/// object. Chosen tokens must be passed once each, in order: their text comes from a streaming detokenizer,
/// so that the tokens' texts join into the reply (a lone token would lose its leading space).
/// </summary>
public sealed class TokenStrings(InferenceEngine engine)
{
    private readonly Core.Text.StreamingDetokenizer? _chosen = engine.Tokenizer?.CreateStreamingDetokenizer();

    /// <summary>Reported when the chosen token is not among the engine's top ones (vLLM's convention for "very unlikely").</summary>
    public const double Unlisted = -9999.0;

    /// <summary>An alternative token's text: decoded after itself, so a word-initial space is kept.</summary>
    public string Text(int id)
    {
        if (engine.Tokenizer is not { } t) return $"<{id}>";
        string alone = t.Decode([id]), twice = t.Decode([id, id]);
        return twice.Length >= alone.Length ? twice[alone.Length..] : alone;
    }

    private string Chosen(int id) => _chosen is null ? $"<{id}>" : _chosen.Push(id);

    public static double LogprobOf(int id, IReadOnlyList<TokenLogprob> top)
    {
        foreach (var t in top) if (t.Id == id) return t.Logprob;
        return Unlisted;
    }

    private static JsonArray Bytes(string text) => new(Encoding.UTF8.GetBytes(text).Select(b => (JsonNode)(int)b).ToArray());

    /// <summary>Chat: one entry per token with its top <paramref name="k"/> alternatives.</summary>
    public JsonArray ChatEntries(IEnumerable<GeneratedToken> tokens, int k) => new(tokens.Select(t =>
    {
        string text = Chosen(t.Id);
        return (JsonNode)new JsonObject
        {
            ["token"] = text,
            ["logprob"] = LogprobOf(t.Id, t.TopLogprobs!),
            ["bytes"] = Bytes(text),
            ["top_logprobs"] = new JsonArray(t.TopLogprobs!.Take(k).Select(a =>
            {
                string s = Text(a.Id);
                return (JsonNode)new JsonObject { ["token"] = s, ["logprob"] = a.Logprob, ["bytes"] = Bytes(s) };
            }).ToArray()),
        };
    }).ToArray());

    /// <summary>Legacy completions: tokens, token_logprobs, top_logprobs (token → logprob) and text_offset.</summary>
    public JsonObject Legacy(IReadOnlyList<GeneratedToken> tokens, int k, int textOffset)
    {
        var strings = tokens.Select(t => Chosen(t.Id)).ToArray();
        var offsets = new JsonArray();
        int at = textOffset;
        foreach (string s in strings) { offsets.Add(at); at += s.Length; }
        return new JsonObject
        {
            ["tokens"] = new JsonArray(strings.Select(s => (JsonNode)s).ToArray()),
            ["token_logprobs"] = new JsonArray(tokens.Select(t => (JsonNode)LogprobOf(t.Id, t.TopLogprobs!)).ToArray()),
            ["top_logprobs"] = new JsonArray(tokens.Select(t =>
            {
                var top = new JsonObject();
                foreach (var a in t.TopLogprobs!.Take(Math.Max(k, 1))) top[Text(a.Id)] = a.Logprob;
                return (JsonNode)top;
            }).ToArray()),
            ["text_offset"] = offsets,
        };
    }
}
