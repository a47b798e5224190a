using System.Runtime.CompilerServices;
using Engine.Core.Text.Templates;
using Engine.Models.Generation;
using Microsoft.Extensions.AI;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;
using EngineMessage = Engine.Core.Text.Templates.ChatMessage;

namespace Engine.Models.ChatClient;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IChatClient"/> over an <see cref="InferenceEngine"/>: messages go
/// through the model's own chat template, calls from any thread share the engine's scheduler, and
/// each call's conversation is kept as a <see cref="ChatSession"/> under the
/// <see cref="ChatResponse.ConversationId"/> it returns. A call that passes that id in
/// <see cref="ChatOptions.ConversationId"/> gives only the new messages; the client keeps the history
/// and its KV cache, so the turn prefills only its new tokens. <see cref="ChatOptionsMapping"/> says
/// how options map. The engine is not disposed with the client unless <c>ownsEngine</c> is set.
/// </summary>
public sealed class EngineChatClient : IChatClient
{
    /// <summary>Conversations kept by default (each holds its KV pages between turns).</summary>
    public const int DefaultMaxConversations = 16;

    private readonly InferenceEngine _engine;
    private readonly ChatRenderOptions? _render;
    private readonly bool _ownsEngine;
    private readonly ConversationStore _conversations;

    /// <param name="maxConversations">Idle conversations kept; opening one more ends the least recently used.</param>
    /// <param name="render">Template inputs for every call (tools, extra variables, a fixed clock).</param>
    public EngineChatClient(InferenceEngine engine, int maxConversations = DefaultMaxConversations, ChatRenderOptions? render = null, bool ownsEngine = false)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConversations, 1);
        _engine = engine;
        _render = render;
        _ownsEngine = ownsEngine;
        _conversations = new ConversationStore(engine, maxConversations);
        Metadata = new ChatClientMetadata("engine", null, engine.Name);
    }

    public ChatClientMetadata Metadata { get; }

    /// <summary>Conversations the client keeps now.</summary>
    public int Conversations => _conversations.Count;

    /// <summary>Ends a conversation and returns its KV pages; false when the id is unknown.</summary>
    public bool EndConversation(string conversationId) => _conversations.Remove(conversationId);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken).ConfigureAwait(false);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        cancellationToken.ThrowIfCancellationRequested();
        var fresh = messages.Select(m => new EngineMessage(m.Role.Value, m.Text)).ToList();
        var policy = ChatOptionsMapping.KvPolicy(options);
        var conversation = _conversations.Open(options?.ConversationId, () => policy.Create(_engine.Config.NumLayers));
        try
        {
            await conversation.Turn.WaitAsync(cancellationToken).ConfigureAwait(false);
            Completion? completion = null;
            try
            {
                var generation = ChatOptionsMapping.ToGeneration(options, _engine, conversation.Policy);
                List<EngineMessage> all = [.. Instructions(options), .. conversation.Messages, .. fresh];
                var prompt = _engine.RenderChat(all, _render);
                completion = conversation.Session.Continue(prompt, generation);
                var update = new ChatResponseUpdate
                {
                    Role = ChatRole.Assistant, ResponseId = Guid.NewGuid().ToString("N"), MessageId = Guid.NewGuid().ToString("N"),
                    ConversationId = conversation.Id, ModelId = _engine.Name, CreatedAt = DateTimeOffset.UtcNow,
                };
                await foreach (var token in completion.StreamAsync(cancellationToken).ConfigureAwait(false))
                    if (token.Text.Length > 0) yield return Next(update, new TextContent(token.Text));
                cancellationToken.ThrowIfCancellationRequested();

                var final = Next(update, new UsageContent(Usage(prompt.Count, completion)));
                final.FinishReason = ChatOptionsMapping.ToChat(completion.FinishReason!.Value);
                if (completion.FinishMessage is { } error) final.Contents.Add(new ErrorContent(error));
                yield return final;
            }
            finally
            {
                // Also after a cancelled reply: the session's cache holds what was generated, so the history does too.
                if (completion?.FinishReason is not null)
                {
                    conversation.Messages.AddRange(fresh);
                    conversation.Messages.Add(new EngineMessage("assistant", completion.Text));
                }
                conversation.Turn.Release();
            }
        }
        finally
        {
            _conversations.Release(conversation);
        }
    }

    /// <summary>ChatOptions.Instructions as a leading system message (rendered each turn, not kept in the history).</summary>
    private static IEnumerable<EngineMessage> Instructions(ChatOptions? options) =>
        options?.Instructions is { Length: > 0 } text ? [new EngineMessage("system", text)] : [];

    private static ChatResponseUpdate Next(ChatResponseUpdate template, AIContent content) => new()
    {
        Role = template.Role, ResponseId = template.ResponseId, MessageId = template.MessageId, ConversationId = template.ConversationId,
        ModelId = template.ModelId, CreatedAt = template.CreatedAt, Contents = [content],
    };

    /// <summary>Input: the whole rendered conversation (cached tokens included, also counted as cached); output: the generated tokens.</summary>
    private static UsageDetails Usage(int promptTokens, Completion completion)
    {
        int output = completion.TokenIds.Count;
        return new UsageDetails
        {
            InputTokenCount = promptTokens,
            CachedInputTokenCount = Math.Max(0, promptTokens - completion.PromptIds.Count),
            OutputTokenCount = output,
            TotalTokenCount = promptTokens + output,
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return Metadata;
        if (serviceType.IsInstanceOfType(_engine)) return _engine;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    public void Dispose()
    {
        _conversations.Dispose();
        if (_ownsEngine) _engine.Dispose();
    }
}
