using Engine.Models.Kv;

namespace Engine.Models.ChatClient;

/// <summary>
/// The conversations an <see cref="EngineChatClient"/> keeps by id. Each holds KV pages between turns,
/// so at most <see cref="Capacity"/> idle ones are kept: opening one more ends the least recently used.
/// Idle ones also give way when the engine's KV pool is needed: a request the pool cannot admit ends
/// the least recently used idle conversation, then the next, until it fits (the store is one of the
/// pool's reclaimers). A conversation is in use from <see cref="Open"/> to <see cref="Release"/> and
/// is never ended meanwhile.
/// </summary>
internal sealed class ConversationStore : IDisposable
{
    private readonly InferenceEngine _engine;
    private readonly Dictionary<string, Conversation> _byId = new(StringComparer.Ordinal);
    private readonly IDisposable _reclaimer;
    private long _clock;

    public ConversationStore(InferenceEngine engine, int capacity)
    {
        _engine = engine;
        Capacity = capacity;
        _reclaimer = engine.Cache.AddReclaimer(() => { lock (_byId) return EvictOldest(); });
    }

    public int Capacity { get; }

    public int Count
    {
        get { lock (_byId) return _byId.Count; }
    }

    /// <summary>The conversation <paramref name="id"/> names, or a new one (a fresh id when <paramref name="id"/> is null or unknown).</summary>
    public Conversation Open(string? id, Func<IKvCachePolicy?> policy)
    {
        lock (_byId)
        {
            if (id is null || !_byId.TryGetValue(id, out var conversation))
            {
                while (_byId.Count >= Capacity && EvictOldest()) { }
                conversation = new Conversation(id ?? Guid.NewGuid().ToString("N"), _engine.StartSession(), policy());
                _byId.Add(conversation.Id, conversation);
            }
            conversation.LastUsed = ++_clock;
            conversation.Users++;
            return conversation;
        }
    }

    /// <summary>The end of a call that opened <paramref name="conversation"/>.</summary>
    public void Release(Conversation conversation)
    {
        lock (_byId)
            if (--conversation.Users > 0 || !conversation.Removed) return;
        conversation.Dispose();
    }

    /// <summary>Ends a conversation and returns its KV pages (once its running turn ends); false when the id is unknown.</summary>
    public bool Remove(string id)
    {
        lock (_byId)
        {
            if (!_byId.Remove(id, out var conversation)) return false;
            conversation.Removed = true;
            if (conversation.Users == 0) conversation.Dispose();
            return true;
        }
    }

    /// <summary>Ends the least recently used conversation not in use; false when every one is.</summary>
    private bool EvictOldest()
    {
        var oldest = _byId.Values.Where(c => c.Users == 0).MinBy(c => c.LastUsed);
        if (oldest is null) return false;
        _byId.Remove(oldest.Id);
        oldest.Dispose();
        return true;
    }

    public void Dispose()
    {
        _reclaimer.Dispose();
        lock (_byId)
        {
            foreach (var conversation in _byId.Values) conversation.Dispose();
            _byId.Clear();
        }
    }
}
