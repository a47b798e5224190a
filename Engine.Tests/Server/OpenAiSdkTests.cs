using System.ClientModel;
using Microsoft.Extensions.AI;
using NUnit.Framework;
using OpenAI;
using OpenAI.Chat;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AiChatRole = Microsoft.Extensions.AI.ChatRole;
using SdkChatMessage = OpenAI.Chat.ChatMessage;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;

namespace Engine.Tests.Server;

/// <summary>The server driven by the official OpenAI .NET SDK and by Microsoft.Extensions.AI's IChatClient over it.</summary>
[TestFixture]
[NonParallelizable]
public sealed class OpenAiSdkTests
{
    private TestServer _server = null!;
    private OpenAI.Chat.ChatClient _chat = null!;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _server = await TestServer.StartAsync();
        var client = new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = _server.ApiBase, NetworkTimeout = TimeSpan.FromSeconds(60) });
        _chat = client.GetChatClient(TestServer.ModelName);
    }

    [OneTimeTearDown]
    public async Task StopServer() => await _server.DisposeAsync();

    private static SdkChatMessage[] Hello => [new SystemChatMessage("You tell stories."), new UserChatMessage("Tell me about a cat.")];

    private static ChatCompletionOptions Greedy(int maxTokens) => new() { MaxOutputTokenCount = maxTokens, Temperature = 0 };

    [Test]
    public async Task Chat_non_streaming_returns_text_usage_and_finish_reason()
    {
        ChatCompletion reply = await _chat.CompleteChatAsync(Hello, Greedy(12));
        Assert.That(reply.Content[0].Text, Is.Not.Empty);
        Assert.That(reply.FinishReason, Is.EqualTo(ChatFinishReason.Length));
        Assert.That(reply.Usage.OutputTokenCount, Is.EqualTo(12));
        Assert.That(reply.Usage.InputTokenCount, Is.GreaterThan(5));
        Assert.That(reply.Usage.TotalTokenCount, Is.EqualTo(reply.Usage.InputTokenCount + 12));
        Assert.That(reply.Role, Is.EqualTo(ChatMessageRole.Assistant));
    }

    [Test]
    public async Task Chat_streaming_concatenates_to_the_non_streaming_text()
    {
        ChatCompletion whole = await _chat.CompleteChatAsync(Hello, Greedy(16));
        var text = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        string? id = null;
        await foreach (var update in _chat.CompleteChatStreamingAsync(Hello, Greedy(16)))
        {
            id ??= update.CompletionId;
            Assert.That(update.CompletionId, Is.EqualTo(id), "one id for every chunk");
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        Assert.That(text.ToString(), Is.EqualTo(whole.Content[0].Text));
        Assert.That(finish, Is.EqualTo(ChatFinishReason.Length));
        Assert.That(usage?.OutputTokenCount, Is.EqualTo(16), "the SDK asks for usage in the stream; it must come");
    }

    [Test]
    public async Task Chat_logprobs_list_each_token_with_its_top_alternatives()
    {
        var options = Greedy(6);
        options.IncludeLogProbabilities = true;
        options.TopLogProbabilityCount = 3;
        ChatCompletion reply = await _chat.CompleteChatAsync(Hello, options);
        Assert.That(reply.ContentTokenLogProbabilities, Has.Count.EqualTo(6));
        foreach (var token in reply.ContentTokenLogProbabilities)
        {
            Assert.That(token.TopLogProbabilities, Has.Count.EqualTo(3));
            // Greedy: the chosen token is the most likely one.
            Assert.That(token.LogProbability, Is.EqualTo(token.TopLogProbabilities[0].LogProbability).Within(1e-9));
            Assert.That(token.LogProbability, Is.LessThanOrEqualTo(0));
        }
        Assert.That(string.Concat(reply.ContentTokenLogProbabilities.Select(t => t.Token)), Is.EqualTo(reply.Content[0].Text));
    }

    [Test]
    public async Task Chat_stop_sequence_ends_the_reply_before_it()
    {
        ChatCompletion whole = await _chat.CompleteChatAsync(Hello, Greedy(40));
        string text = whole.Content[0].Text;
        int cut = text.IndexOf(' ', 4);
        Assume.That(cut, Is.GreaterThan(0), "the reply has a space to stop at");
        string stop = text.Substring(cut, 3);
        var options = Greedy(40);
        options.StopSequences.Add(stop);
        ChatCompletion stopped = await _chat.CompleteChatAsync(Hello, options);
        Assert.That(stopped.FinishReason, Is.EqualTo(ChatFinishReason.Stop));
        Assert.That(stopped.Content[0].Text, Is.EqualTo(text[..text.IndexOf(stop, StringComparison.Ordinal)]));
    }

    [Test]
    public async Task Cancelling_a_stream_through_the_token_frees_the_engine()
    {
        using var cancel = new CancellationTokenSource();
        int updates = 0;
        var options = Greedy(400);
        Assert.That(async () =>
        {
            await foreach (var update in _chat.CompleteChatStreamingAsync(Hello, options, cancel.Token))
                if (update.ContentUpdate.Count > 0 && ++updates == 3) cancel.Cancel();
        }, Throws.InstanceOf<OperationCanceledException>());
        Assert.That(updates, Is.EqualTo(3));
        // The cancelled request leaves the engine: the next one runs, and no pages stay held.
        ChatCompletion next = await _chat.CompleteChatAsync(Hello, Greedy(4));
        Assert.That(next.Usage.OutputTokenCount, Is.EqualTo(4));
        var metrics = await WaitForIdleAsync();
        Assert.That(metrics["engine_kv_pages_used"], Is.EqualTo(0));
        Assert.That(metrics["engine_requests_running"], Is.EqualTo(0));
    }

    private async Task<Dictionary<string, double>> WaitForIdleAsync()
    {
        for (int i = 0; i < 100; i++)
        {
            var metrics = await _server.MetricsAsync();
            if (metrics["engine_requests_running"] == 0 && metrics["engine_kv_pages_used"] == 0) return metrics;
            await Task.Delay(50);
        }
        return await _server.MetricsAsync();
    }

    [Test]
    public async Task Models_lists_the_served_model()
    {
        var client = new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = _server.ApiBase });
        var models = (await client.GetOpenAIModelClient().GetModelsAsync()).Value;
        Assert.That(models.Select(m => m.Id), Is.EqualTo(new[] { TestServer.ModelName }));
    }

    [Test]
    public async Task Extensions_AI_chat_client_gets_replies_and_streams()
    {
        IChatClient client = _chat.AsIChatClient();
        var messages = new List<AiChatMessage> { new(AiChatRole.User, "Tell me about a dog.") };
        var options = new ChatOptions { MaxOutputTokens = 10, Temperature = 0 };
        ChatResponse response = await client.GetResponseAsync(messages, options);
        Assert.That(response.Text, Is.Not.Empty);
        Assert.That(response.Usage?.OutputTokenCount, Is.EqualTo(10));
        Assert.That(response.FinishReason, Is.EqualTo(Microsoft.Extensions.AI.ChatFinishReason.Length));

        var streamed = new System.Text.StringBuilder();
        await foreach (var update in client.GetStreamingResponseAsync(messages, options)) streamed.Append(update.Text);
        Assert.That(streamed.ToString(), Is.EqualTo(response.Text));
    }
}
