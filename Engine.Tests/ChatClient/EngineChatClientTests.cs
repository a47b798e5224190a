using Engine.Core;
using Engine.Models;
using Engine.Models.ChatClient;
using Engine.Models.Generation;
using Engine.Tests.Support;
using Microsoft.Extensions.AI;
using NUnit.Framework;
using EngineMessage = Engine.Core.Text.Templates.ChatMessage;

namespace Engine.Tests.ChatClient;

/// <summary>
/// <see cref="EngineChatClient"/> in the style of Microsoft's chat-client conformance tests (streaming,
/// usage once, stop sequences, concurrent calls, cancellation, conversations), on stories260K with a
/// chat template (SIMD CPU backend, f32 KV).
/// </summary>
public class EngineChatClientTests
{
    private TempFolder _model = null!;
    private InferenceEngine _engine = null!;

    [OneTimeSetUp]
    public void Load()
    {
        _model = StoriesChatModel.Create();
        _engine = InferenceEngine.Load(_model.Path, new EngineOptions { Device = "cpu", KvDType = DType.F32, Threads = 1 });
    }

    [OneTimeTearDown]
    public void Unload()
    {
        _engine?.Dispose();
        _model?.Dispose();
    }

    private static ChatOptions Greedy(int maxTokens = 24) => new() { Temperature = 0, MaxOutputTokens = maxTokens };

    private static List<ChatMessage> Ask(string text) => [new(ChatRole.User, text)];

    /// <summary>What the engine itself gives for the same messages through the template (greedy).</summary>
    private string EngineReply(IReadOnlyList<EngineMessage> messages, int maxTokens)
    {
        var completion = _engine.Chat(messages, _engine.DefaultOptions() with { MaxTokens = maxTokens, Sampling = Core.Sampling.SamplingOptions.Greedy });
        completion.RunToEndAsync().GetAwaiter().GetResult();
        return completion.Text;
    }

    [Test]
    public async Task ResponseUsesTheModelsChatTemplate()
    {
        using var client = new EngineChatClient(_engine);
        var response = await client.GetResponseAsync(Ask("Tell me a story about a cat"), Greedy());
        Assert.That(response.Text, Is.EqualTo(EngineReply([new("user", "Tell me a story about a cat")], 24)));
        Assert.That(response.Text, Is.Not.Empty);
        Assert.That(response.Messages.Single().Role, Is.EqualTo(ChatRole.Assistant));
        Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.Length));
        Assert.That(response.ModelId, Is.EqualTo(_engine.Name));
        Assert.That(response.ConversationId, Is.Not.Null.And.Not.Empty);
        int prompt = _engine.RenderChat([new("user", "Tell me a story about a cat")]).Count;
        Assert.That(response.Usage!.InputTokenCount, Is.EqualTo(prompt));
        Assert.That(response.Usage.OutputTokenCount, Is.EqualTo(24));
        Assert.That(response.Usage.TotalTokenCount, Is.EqualTo(prompt + 24));
    }

    [Test]
    public async Task StreamingGivesTheSameTextAndExactlyOneUsage()
    {
        using var client = new EngineChatClient(_engine);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Ask("Once upon a time"), Greedy(30))) updates.Add(update);
        var whole = await client.GetResponseAsync(Ask("Once upon a time"), Greedy(30));

        Assert.That(updates.Count, Is.GreaterThan(2), "the reply streamed in pieces");
        Assert.That(string.Concat(updates.Select(u => u.Text)), Is.EqualTo(whole.Text));
        var usages = updates.SelectMany(u => u.Contents).OfType<UsageContent>().ToArray();
        Assert.That(usages, Has.Length.EqualTo(1), "exactly one UsageContent per stream");
        var usage = usages[0].Details;
        Assert.That(usage.InputTokenCount + usage.OutputTokenCount, Is.EqualTo(usage.TotalTokenCount));
        Assert.That(usage.OutputTokenCount, Is.EqualTo(30));
        Assert.That(updates.Count(u => u.FinishReason is not null), Is.EqualTo(1));
        Assert.That(updates.Last().FinishReason, Is.EqualTo(ChatFinishReason.Length));
        Assert.That(updates.Select(u => u.ResponseId).Distinct().Count(), Is.EqualTo(1));
        Assert.That(updates.All(u => u.Role == ChatRole.Assistant && u.ConversationId == updates[0].ConversationId));
    }

    [Test]
    public async Task MultiTokenStopSequenceEndsTheReplyBeforeIt()
    {
        using var client = new EngineChatClient(_engine);
        var free = await client.GetResponseAsync(Ask("Once upon a time"), Greedy(60));
        // A word from the middle of the free reply: several tokens long, so the stop must match across tokens.
        string stop = free.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(4).First(w => w.Length >= 4);
        Assert.That(_engine.Tokenizer!.Encode(stop, addSpecialTokens: false).Length, Is.GreaterThan(1), $"'{stop}' is one token");

        var options = Greedy(60);
        options.StopSequences = [stop];
        var stopped = await client.GetResponseAsync(Ask("Once upon a time"), options);
        Assert.That(stopped.FinishReason, Is.EqualTo(ChatFinishReason.Stop));
        Assert.That(stopped.Text, Is.EqualTo(free.Text[..free.Text.IndexOf(stop, StringComparison.Ordinal)]));
    }

    [Test]
    public async Task ConcurrentCallsShareStepsAndGiveWhatTheyGiveAlone()
    {
        using var client = new EngineChatClient(_engine);
        string[] prompts = ["A dog", "The sun was hot", "Lily and Ben went to the park", "Tim had a red ball"];
        var alone = new List<string>();
        foreach (string p in prompts) alone.Add((await client.GetResponseAsync(Ask(p), Greedy(20))).Text);

        long peakBefore = _engine.Steps.PeakSequencesPerStep;
        var together = await Task.WhenAll(prompts.Select(p => Task.Run(() => client.GetResponseAsync(Ask(p), Greedy(20)))));
        Assert.That(together.Select(r => r.Text), Is.EqualTo(alone));
        Assert.That(together.Select(r => r.ConversationId).Distinct().Count(), Is.EqualTo(prompts.Length));
        Assert.That(Math.Max(peakBefore, _engine.Steps.PeakSequencesPerStep), Is.GreaterThanOrEqualTo(2), "the calls shared forward steps");
    }

    [Test]
    public async Task CancellationThrowsAndReturnsThePages()
    {
        var client = new EngineChatClient(_engine);
        using var cancellation = new CancellationTokenSource();
        int received = 0;
        Assert.ThrowsAsync(Is.InstanceOf<OperationCanceledException>(), async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync(Ask("Once upon a time"), Greedy(200), cancellation.Token))
                if (++received == 2) cancellation.Cancel();
        });
        Assert.That(received, Is.EqualTo(2));
        Assert.ThrowsAsync(Is.InstanceOf<OperationCanceledException>(), () => client.GetResponseAsync(Ask("x"), Greedy(), cancellation.Token));

        // The client still works, and its conversations hold the only pages: disposing it returns them.
        Assert.That((await client.GetResponseAsync(Ask("A dog"), Greedy(5))).Text, Is.Not.Empty);
        client.Dispose();
        Assert.That(_engine.Cache.UsedPages, Is.Zero);
        Assert.That(_engine.Requests, Is.EqualTo((0, 0)));
    }

    [Test]
    public async Task ConversationIdContinuesTheSessionAndPrefillsOnlyTheNewTurn()
    {
        using var client = new EngineChatClient(_engine);
        var first = await client.GetResponseAsync(Ask("Tell me about a bird"), Greedy(16));
        var options = Greedy(16);
        options.ConversationId = first.ConversationId;
        var second = await client.GetResponseAsync(Ask("What did it eat?"), options);
        Assert.That(second.ConversationId, Is.EqualTo(first.ConversationId));
        Assert.That(second.Usage!.CachedInputTokenCount, Is.GreaterThanOrEqualTo(first.Usage!.InputTokenCount!.Value), "the first turn's prompt came from the cache");

        // The same conversation given whole to a fresh client: the same reply (greedy, full cache).
        using var fresh = new EngineChatClient(_engine);
        List<ChatMessage> history = [new(ChatRole.User, "Tell me about a bird"), new(ChatRole.Assistant, first.Text), new(ChatRole.User, "What did it eat?")];
        var whole = await fresh.GetResponseAsync(history, Greedy(16));
        Assert.That(second.Text, Is.EqualTo(whole.Text));
        Assert.That(second.Usage.InputTokenCount, Is.EqualTo(whole.Usage!.InputTokenCount));
        Assert.That(whole.Usage.CachedInputTokenCount, Is.Zero);

        Assert.That(client.EndConversation(first.ConversationId!), Is.True);
        Assert.That(client.EndConversation(first.ConversationId!), Is.False);
    }

    [Test]
    public async Task OldestConversationIsEndedBeyondTheCapacity()
    {
        using var client = new EngineChatClient(_engine, maxConversations: 2);
        var ids = new List<string>();
        foreach (string p in new[] { "A", "B", "C" }) ids.Add((await client.GetResponseAsync(Ask(p), Greedy(4))).ConversationId!);
        Assert.That(client.Conversations, Is.EqualTo(2));
        Assert.That(client.EndConversation(ids[0]), Is.False, "the least recently used one was ended");
        Assert.That(client.EndConversation(ids[2]), Is.True);
    }

    [Test]
    public async Task IdleConversationsGiveTheirPagesBackWhenThePoolIsNeeded()
    {
        // A pool of 60 pages (stories260K, f32 KV: 4 KiB a page of 16 slots, 5 layers), three idle conversations in it.
        using var engine = InferenceEngine.Load(_model.Path, new EngineOptions { Device = "cpu", KvDType = DType.F32, Threads = 1, KvMemoryBytes = 60 * 4096 });
        Assert.That(engine.Cache.PageCount, Is.EqualTo(60));
        using var client = new EngineChatClient(engine);
        var ids = new List<string>();
        foreach (string p in new[] { "A cat", "A dog", "A bird" }) ids.Add((await client.GetResponseAsync(Ask(p), Greedy(4))).ConversationId!);
        int free = engine.Cache.FreePages;
        Assert.That(engine.Cache.UsedPages, Is.GreaterThan(10), "the idle conversations hold pages");

        // A request whose reservation needs more pages than are free: the oldest idle conversations make room.
        int pagesPerLayer = free / engine.Config.NumLayers + 1;
        int[] prompt = [1, 2, 3, 4, 5, 6, 7, 8];
        var completion = engine.Generate(prompt, new GenerationOptions { MaxTokens = pagesPerLayer * 16 - prompt.Length, IgnoreEos = true, Sampling = Core.Sampling.SamplingOptions.Greedy });
        Assert.That(await completion.RunToEndAsync(), Is.EqualTo(FinishReason.Length), completion.FinishMessage);
        Assert.That(client.Conversations, Is.InRange(1, 2), "only as many as needed were ended");
        Assert.That(client.EndConversation(ids[0]), Is.False, "the least recently used went first");
        Assert.That(client.EndConversation(ids[2]), Is.True, "the most recently used was kept");
    }

    [Test]
    public async Task OptionsMapOntoTheRequest()
    {
        using var client = new EngineChatClient(_engine);
        ChatOptions Sampled() => new()
        {
            Temperature = 0.9f, TopP = 0.95f, TopK = 40, Seed = 7, MaxOutputTokens = 20, FrequencyPenalty = 0.5f, PresencePenalty = 0.2f,
            AdditionalProperties = new() { ["repetition_penalty"] = 1.1, ["min_p"] = "0.02" },
        };
        var a = await client.GetResponseAsync(Ask("Once upon a time"), Sampled());
        var b = await client.GetResponseAsync(Ask("Once upon a time"), Sampled());
        Assert.That(a.Text, Is.EqualTo(b.Text), "the same seed gives the same text");

        // A LagKV conversation (small partitions for the 512-token context) keeps its policy across turns.
        var lag = Greedy(40);
        lag.AdditionalProperties = new() { ["kv_policy"] = "lagkv", ["lagkv"] = "4x", ["lag_size"] = 8, ["sink_size"] = 4, ["prefill_chunk"] = "auto" };
        var first = await client.GetResponseAsync(Ask("Tell me a story about a big red ball"), lag);
        Assert.That(first.FinishReason, Is.EqualTo(ChatFinishReason.Length));
        var next = Greedy(8);
        next.ConversationId = first.ConversationId;
        Assert.That((await client.GetResponseAsync(Ask("More"), next)).Usage!.CachedInputTokenCount, Is.GreaterThan(0));

        var bad = Greedy();
        bad.AdditionalProperties = new() { ["lagkv"] = "99x" };
        Assert.ThrowsAsync<EngineException>(() => client.GetResponseAsync(Ask("x"), bad));
        bad.AdditionalProperties = new() { ["repetition_penalty"] = "strong" };
        Assert.ThrowsAsync<EngineException>(() => client.GetResponseAsync(Ask("x"), bad));
    }

    [Test]
    public void FinishReasonsMapIncludingKvExhaustedAndError()
    {
        Assert.That(ChatOptionsMapping.ToChat(FinishReason.Eos), Is.EqualTo(ChatFinishReason.Stop));
        Assert.That(ChatOptionsMapping.ToChat(FinishReason.Context), Is.EqualTo(ChatFinishReason.Length));
        Assert.That(ChatOptionsMapping.ToChat(FinishReason.KvExhausted)!.Value.Value, Is.EqualTo("kv_exhausted"));
        Assert.That(ChatOptionsMapping.ToChat(FinishReason.Error)!.Value.Value, Is.EqualTo("error"));
    }

    [Test]
    public void GetServiceReturnsTheEngineAndMetadata()
    {
        using IChatClient client = new EngineChatClient(_engine);
        Assert.That(client.GetService<InferenceEngine>(), Is.SameAs(_engine));
        Assert.That(client.GetService<ChatClientMetadata>()!.DefaultModelId, Is.EqualTo(_engine.Name));
        Assert.That(client.GetService<EngineChatClient>(), Is.SameAs(client));
        Assert.That(client.GetService<InferenceEngine>("key"), Is.Null);
        Assert.That(client.GetService<string>(), Is.Null);
    }
}
