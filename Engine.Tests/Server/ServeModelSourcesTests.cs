using System.Net;
using Engine.Cli.Commands;
using Engine.Cli.Options;
using Engine.Models;
using Engine.Server;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Server;

/// <summary>What `engine serve` can serve besides a model folder: random weights of a model's shape, and a GGUF file.</summary>
[TestFixture]
[NonParallelizable]
public sealed class ServeModelSourcesTests
{
    private const string Completion = """{"prompt":"Once upon a time","max_tokens":6,"temperature":0}""";

    /// <summary>The loader and options `engine serve` makes of these flags (CPU, one thread).</summary>
    private static (Func<ServerOptions, InferenceEngine>? Load, Func<ServerOptions, ServerOptions> Configure) Serve(params string[] flags)
    {
        var parsed = ServeCommand.Create().Parse(["--device", "cpu", "--threads", "1", .. flags]);
        Assert.That(parsed.Errors, Is.Empty);
        var read = ServeCommand.ReadOptions(parsed);
        return (ServeCommand.ReadLoader(parsed), o => o with { Model = read.Model, Engine = read.Engine });
    }

    [Test]
    public async Task Random_weights_of_a_models_shape_serve_text_with_its_tokenizer()
    {
        string folder = TestServer.ModelFolder;
        var (load, configure) = Serve("--model", folder, "--random-weights");
        Assert.That(load, Is.Not.Null);
        await using var server = await TestServer.StartAsync(configure, load);
        var reply = await server.PostForJsonAsync("/v1/completions", Completion);
        Assert.That(reply["usage"]!["completion_tokens"]!.GetValue<int>(), Is.EqualTo(6));
        Assert.That(reply["usage"]!["prompt_tokens"]!.GetValue<int>(), Is.GreaterThan(1), "the prompt was tokenized with the folder's tokenizer");

        // The same prompt on the real weights gives another reply: the weights are random.
        await using var real = await TestServer.StartAsync();
        var realReply = await real.PostForJsonAsync("/v1/completions", Completion);
        Assert.That(reply["choices"]![0]!["text"]!.GetValue<string>(), Is.Not.EqualTo(realReply["choices"]![0]!["text"]!.GetValue<string>()));
    }

    [Test]
    public async Task Without_a_tokenizer_the_load_generator_sends_token_ids()
    {
        // Random weights of a registry shape not present locally have no tokenizer; stories260K's shape stands in.
        var spec = new RandomWeightsSpec(null);
        var config = RandomWeightsSpec.Config(TestServer.ModelFolder);
        await using var server = await TestServer.StartAsync(o => o with { ChatTemplatePath = null }, o => spec.Load(o.Model, config, o.Engine));
        using (var tokenize = await server.PostJsonAsync("/tokenize", """{"content":"Hello"}"""))
            Assert.That(tokenize.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var report = await Engine.Server.Bench.ServerLoadGenerator.RunAsync(new(server.Address, Concurrency: 2, Requests: 2, PromptTokens: 12, GenTokens: 5));
        Assert.That(report.Failed, Is.Zero, string.Join("; ", report.Errors));
        Assert.That(report.OutputTokens, Is.EqualTo(10));
        Assert.That((await server.MetricsAsync())["engine_prompt_tokens_total"], Is.EqualTo(24));
    }

    [Test]
    public async Task Random_weights_refuse_a_tokenizer_beyond_the_vocabulary()
    {
        string llama2 = SharedAssets.Require("tokenizers", "llama2");
        var (load, configure) = Serve("--model", TestServer.ModelFolder, "--random-weights", "--tokenizer", llama2);
        await using var server = await TestServer.StartAsync(configure, load, waitReady: false);
        await server.Host.Gateway.Loading.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.That(server.Host.Gateway.LoadError, Does.Contain("has 32000 tokens, more than the 512"));
        using var health = await server.Http.GetAsync("/health");
        Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
    }

    [TestCase(new[] { "--tokenizer", "/tmp" }, "--tokenizer applies to --random-weights")]
    [TestCase(new[] { "--dtype", "f16" }, "--dtype applies to --random-weights")]
    [TestCase(new[] { "--random-weights", "--tokenizer", "/no/such/folder" }, "--tokenizer folder '/no/such/folder' not found")]
    [TestCase(new[] { "--random-weights", "--dtype", "int8" }, "--dtype 'int8' is not one of")]
    public void Random_weight_flags_are_checked_before_serving(string[] flags, string message)
    {
        var stderr = new StringWriter();
        int exit = Engine.Cli.CliApp.Run(["serve", "--model", TestServer.ModelFolder, "--port", "0", .. flags], new StringWriter(), stderr);
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(stderr.ToString(), Does.StartWith("error: ").And.Contain(message));
    }

    [Test]
    public async Task A_gguf_file_is_served_under_its_file_name()
    {
        string gguf = SharedAssets.Require("gguf", "stories260K-f32.gguf");
        await using var server = await TestServer.StartAsync(o => o with { Model = gguf, ChatTemplatePath = null });
        var models = await server.Http.GetStringAsync("/v1/models");
        Assert.That(models, Does.Contain("\"id\":\"stories260K-f32\""));
        var reply = await server.PostForJsonAsync("/v1/completions", Completion.Replace("}", ""","model":"stories260K-f32"}"""));
        Assert.That(reply["usage"]!["completion_tokens"]!.GetValue<int>(), Is.GreaterThan(0));
        Assert.That(reply["choices"]![0]!["text"]!.GetValue<string>(), Is.Not.Empty);
    }
}
