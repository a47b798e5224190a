using System.ClientModel;
using Engine.Core.Checkpoints;
using Engine.Core.Config;
using Engine.Core.Text;
using Engine.Kernels;
using Engine.Models;
using Engine.Models.Generation;
using Engine.Tests.Support;
using NUnit.Framework;
using OpenAI;
using OpenAI.Chat;

namespace Engine.Tests.Server;

/// <summary>
/// Tool calls end to end with the OpenAI SDK: the Qwen2.5 chat template renders the tools, and a scripted
/// text stream stands in for a model that answers with a &lt;tool_call&gt; block (stories260K writes none).
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ToolCallServerTests
{
    private static readonly string[] Script =
        ["Let me ", "check.\n", "<tool", "_call>\n{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": ", "\"Paris\"}}\n</tool_call>"];

    private TestServer _server = null!;
    private OpenAI.Chat.ChatClient _chat = null!;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        string template = SharedAssets.Require("chat-templates", "qwen2.5-7b-instruct", "template.jinja");
        _server = await TestServer.StartAsync(o => o with { ChatTemplatePath = template }, load: o =>
        {
            var config = ModelConfigLoader.Load(o.Model);
            var tokenizer = TextTokenizer.Load(o.Model);
            using var checkpoint = Checkpoint.Open(o.Model);
            // The template's tool preamble outgrows the 512 positions of this tiny model's config: a longer context (the text is scripted anyway).
            return InferenceEngine.Create(TestServer.ModelName, BackendFactory.Create("cpu", 1), checkpoint, config, options: o.Engine with { ContextLimit = 8192 }, tokenizer: tokenizer,
                textStreams: () => new ScriptedTextStream(Script), ownsBackend: true);
        });
        _chat = new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = _server.ApiBase }).GetChatClient(TestServer.ModelName);
    }

    [OneTimeTearDown]
    public async Task StopServer() => await _server.DisposeAsync();

    private static ChatCompletionOptions WithTool()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = Script.Length, Temperature = 0 };
        options.Tools.Add(ChatTool.CreateFunctionTool("get_weather", "The weather in a city",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""")));
        return options;
    }

    private static ChatMessage[] Ask => [new UserChatMessage("What is the weather in Paris?")];

    [Test]
    public async Task A_tool_call_comes_back_as_tool_calls()
    {
        var options = WithTool();
        ChatCompletion reply = await _chat.CompleteChatAsync(Ask, options);
        Assert.That(reply.FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls));
        Assert.That(reply.Content.Single().Text, Is.EqualTo("Let me check."));
        var call = reply.ToolCalls.Single();
        Assert.That(call.FunctionName, Is.EqualTo("get_weather"));
        Assert.That(System.Text.Json.JsonDocument.Parse(call.FunctionArguments).RootElement.GetProperty("city").GetString(), Is.EqualTo("Paris"));
        Assert.That(call.Id, Does.StartWith("call_"));
    }

    [Test]
    public async Task A_streamed_tool_call_arrives_as_deltas_after_the_content()
    {
        var content = new System.Text.StringBuilder();
        string? name = null, id = null;
        var arguments = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in _chat.CompleteChatStreamingAsync(Ask, WithTool()))
        {
            foreach (var part in update.ContentUpdate) content.Append(part.Text);
            foreach (var call in update.ToolCallUpdates)
            {
                Assert.That(call.Index, Is.Zero);
                name ??= call.FunctionName;
                id ??= call.ToolCallId;
                arguments.Append(call.FunctionArgumentsUpdate?.ToString());
            }
            finish ??= update.FinishReason;
        }
        Assert.That(content.ToString(), Is.EqualTo("Let me check."));
        Assert.That(name, Is.EqualTo("get_weather"));
        Assert.That(id, Does.StartWith("call_"));
        Assert.That(System.Text.Json.JsonDocument.Parse(arguments.ToString()).RootElement.GetProperty("city").GetString(), Is.EqualTo("Paris"));
        Assert.That(finish, Is.EqualTo(ChatFinishReason.ToolCalls));
    }

    [Test]
    public async Task The_tool_result_goes_back_through_the_template()
    {
        var options = WithTool();
        ChatCompletion first = await _chat.CompleteChatAsync(Ask, options);
        var call = first.ToolCalls.Single();
        ChatMessage[] followUp = [.. Ask, new AssistantChatMessage([call]), new ToolChatMessage(call.Id, """{"celsius": 21}""")];
        ChatCompletion second = await _chat.CompleteChatAsync(followUp, options);
        Assert.That(second.Usage.InputTokenCount, Is.GreaterThan(first.Usage.InputTokenCount), "the call and its result are in the prompt");
    }

    /// <summary>Text for the next token: the script's next piece, then nothing.</summary>
    private sealed class ScriptedTextStream(string[] pieces) : ITokenTextStream
    {
        private int _next;
        public string Push(int tokenId) => _next < pieces.Length ? pieces[_next++] : "";
        public string Flush() => "";
    }
}
