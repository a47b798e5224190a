using Engine.Models.Generation;
using Engine.Server.Tools;

namespace Engine.Server.Api;

/// <summary>One finished choice: its text (content), parsed tool calls, tokens (for logprobs), finish reason and KV.</summary>
public sealed record ChoiceResult(int Index, string Text, IReadOnlyList<ToolCall> ToolCalls, IReadOnlyList<GeneratedToken> Tokens,
    string FinishReason, int PromptTokens, int GeneratedTokens, KvReport Kv)
{
    /// <summary>The logprobs object of a whole (non-streamed) reply, when asked for.</summary>
    public System.Text.Json.Nodes.JsonNode? Logprobs { get; init; }

    /// <summary>OpenAI's finish reasons: stop (EOS or a stop string), length (max tokens, context, KV pool), tool_calls.</summary>
    public static string OpenAiReason(FinishReason reason, bool toolCalls) =>
        toolCalls ? "tool_calls"
        : reason is Models.Generation.FinishReason.Length or Models.Generation.FinishReason.Context or Models.Generation.FinishReason.KvExhausted ? "length"
        : "stop";
}
