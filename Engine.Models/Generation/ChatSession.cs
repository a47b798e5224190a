using Engine.Core;
using Engine.Core.Text.Templates;
using Engine.Models.Kv;
using Engine.Models.Scheduling;

namespace Engine.Models.Generation;

/// <summary>
/// A conversation whose KV cache lives from turn to turn: each turn prefills only the tokens its cache
/// lacks (the new message and the template's glue), and the reply continues the same sequence. With a
/// KV policy the compressed cache carries on (positions stay logical) and keeps compressing as turns
/// add partitions. If a turn's tokens differ from what the cache holds (the template re-rendered an
/// earlier turn differently), an uncompressed cache is rewound to the common prefix; a compressed one
/// cannot be, and the turn is refused. One turn at a time; Dispose returns the pages.
/// </summary>
public sealed class ChatSession : IDisposable
{
    private readonly InferenceEngine _engine;
    private readonly List<int> _tokens = [];
    private KvSequence? _sequence;
    private Completion? _turn;
    private bool _disposed;

    internal ChatSession(InferenceEngine engine) => _engine = engine;

    /// <summary>The conversation's tokens so far (prompts and replies, the last reply's final token included).</summary>
    public IReadOnlyList<int> Tokens => _tokens;
    /// <summary>Tokens whose keys and values the cache holds (the last reply's final token is fed by the next turn).</summary>
    public int CachedTokens => _sequence?.LogicalLength ?? 0;
    /// <summary>The session's KV cache (null before the first turn).</summary>
    public KvSequence? Sequence => _sequence;

    /// <summary>The next turn from chat messages: the whole conversation rendered through the model's chat template.</summary>
    public Completion Chat(IReadOnlyList<ChatMessage> messages, GenerationOptions? options = null, ChatRenderOptions? render = null) =>
        Continue(_engine.RenderChat(messages, render), options);

    /// <summary>The next turn from the whole conversation's token ids: prefills only what the cache lacks.</summary>
    public Completion Continue(IReadOnlyList<int> conversation, GenerationOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_turn is { FinishReason: null } && _turn.Stats.PrefillTokens + _turn.Stats.GeneratedTokens > 0)
            throw new EngineException("the session's previous turn is still running: a session runs one turn at a time");
        int cached = CachedTokens, common = 0;
        while (common < cached && common < conversation.Count && conversation[common] == _tokens[common]) common++;
        // At least one token must be fed to get logits: re-feed the last one when the conversation adds nothing.
        if (common == conversation.Count) common--;
        if (common < 0) throw new EngineException("the conversation is empty: give at least one token");
        if (common < cached)
        {
            if (_sequence!.IsCompressed)
                throw new EngineException($"the conversation differs from the session's cache at token {common}, and the cache is compressed so it cannot be rewound; start a new session");
            _sequence.Rewind(common);
        }
        _tokens.RemoveRange(common, _tokens.Count - common);
        int[] fresh = conversation.Skip(common).ToArray();
        _turn = _engine.Submit(fresh, options, _sequence, EndTurn, keepSequence: true);
        return _turn;
    }

    /// <summary>The next turn from the new tokens only, appended to the conversation.</summary>
    public Completion Append(IReadOnlyList<int> tokens, GenerationOptions? options = null) => Continue([.. _tokens, .. tokens], options);

    private void EndTurn(SequenceRun run)
    {
        if (run.Reason == FinishReason.Error || run.Sequence is null || run.Sequence.IsDisposed)
        {
            // The cache may hold half a step: the conversation starts over with the next turn.
            _sequence = null;
            _tokens.Clear();
            return;
        }
        _sequence = run.Sequence;
        _tokens.AddRange(run.History);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _sequence?.Dispose();
    }
}
