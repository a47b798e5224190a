using Engine.Models.Generation;
using Engine.Models.Kv;
using EngineMessage = Engine.Core.Text.Templates.ChatMessage;

namespace Engine.Models.ChatClient;

/// <summary>
/// One conversation an <see cref="EngineChatClient"/> keeps: its messages so far, the session whose KV
/// cache holds them, and the KV policy of its first turn (a session keeps it). Turns run one at a time.
/// </summary>
internal sealed class Conversation(string id, ChatSession session, IKvCachePolicy? policy) : IDisposable
{
    public string Id { get; } = id;
    public ChatSession Session { get; } = session;
    public IKvCachePolicy? Policy { get; } = policy;
    public List<EngineMessage> Messages { get; } = [];
    /// <summary>Held for the length of a turn: a second call on the same conversation waits for the first.</summary>
    public SemaphoreSlim Turn { get; } = new(1, 1);
    /// <summary>When the conversation was last used (for evicting the least recently used).</summary>
    public long LastUsed { get; set; }
    /// <summary>Calls between <see cref="ConversationStore.Open"/> and <see cref="ConversationStore.Release"/> (such a conversation is never evicted).</summary>
    public int Users { get; set; }
    /// <summary>Removed from the store while in use: disposed when the last user releases it.</summary>
    public bool Removed { get; set; }

    public void Dispose()
    {
        Session.Dispose();
        Turn.Dispose();
    }
}
