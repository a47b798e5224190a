using System.Net;
using System.Text.Json.Nodes;
using Engine.Core.Checkpoints;
using Engine.Core.Config;
using Engine.Core.Text;
using Engine.Kernels;
using Engine.Models;
using Engine.Models.Generation;
using NUnit.Framework;

namespace Engine.Tests.Server;

/// <summary>Access, queueing, loading, engine faults, load with cancellations and graceful shutdown: each on its own server.</summary>
[TestFixture]
[NonParallelizable]
public sealed class ServerFaultTests
{
    private const string Completion = """{"prompt":"Once upon a time","max_tokens":4}""";
    private const string Long = """{"prompt":"Once upon a time","max_tokens":400,"ignore_eos":true,"stream":true}""";

    private static async Task<JsonNode> ErrorOf(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;

    [Test]
    public async Task Api_key_is_required_except_on_health()
    {
        await using var server = await TestServer.StartAsync(o => o with { ApiKey = "sekrit" });
        using (var none = await server.PostJsonAsync("/v1/completions", Completion))
        {
            Assert.That(none.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That((await ErrorOf(none))["type"]!.GetValue<string>(), Is.EqualTo("authentication_error"));
        }
        using (var wrong = await server.PostJsonAsync("/v1/completions", Completion, apiKey: "nope"))
            Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using (var right = await server.PostJsonAsync("/v1/completions", Completion, apiKey: "sekrit"))
            Assert.That(right.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var models = await server.Http.GetAsync("/v1/models");
        Assert.That(models.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using var health = await server.Http.GetAsync("/health");
        Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Full_queue_is_503_with_retry_after()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxQueue = 0, MaxConcurrent = 1 });
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var running = await server.PostJsonAsync("/v1/completions", Long, cancellation: cancel.Token);
        using var stream = new StreamReader(await running.Content.ReadAsStreamAsync(cancel.Token));
        Assert.That(await stream.ReadLineAsync(cancel.Token), Does.StartWith("data: "), "the first request runs");
        using (var refused = await server.PostJsonAsync("/v1/completions", Completion))
        {
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            Assert.That(refused.Headers.RetryAfter, Is.Not.Null);
            Assert.That((await ErrorOf(refused))["code"]!.GetValue<string>(), Is.EqualTo("queue_full"));
        }
        cancel.Cancel(); // the client goes away: its request is cancelled and the engine frees
        for (int i = 0; i < 200 && server.Host.Gateway.Running > 0; i++) await Task.Delay(25);
        using var next = await server.PostJsonAsync("/v1/completions", Completion);
        Assert.That(next.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task A_queued_request_whose_client_goes_away_leaves_the_queue()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxQueue = 4, MaxConcurrent = 1 });
        var gateway = server.Host.Gateway;
        using var cancelRunning = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var running = await server.PostJsonAsync("/v1/completions", Long, cancellation: cancelRunning.Token);
        using var stream = new StreamReader(await running.Content.ReadAsStreamAsync(cancelRunning.Token));
        Assert.That(await stream.ReadLineAsync(cancelRunning.Token), Does.StartWith("data: "), "the first request runs");

        using var cancelQueued = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var queued = server.PostJsonAsync("/v1/completions", Completion, cancellation: cancelQueued.Token);
        for (int i = 0; i < 400 && gateway.Waiting == 0; i++) await Task.Delay(25);
        Assert.That(gateway.Waiting, Is.EqualTo(1), "the second request waits for the engine");
        cancelQueued.Cancel();
        Assert.That(async () => (await queued).Dispose(), Throws.InstanceOf<OperationCanceledException>());
        for (int i = 0; i < 400 && gateway.Waiting > 0; i++) await Task.Delay(25);
        Assert.That(gateway.Waiting, Is.Zero, "the abandoned request left the queue");
        Assert.That(gateway.Running, Is.EqualTo(1), "and never ran");

        cancelRunning.Cancel();
        for (int i = 0; i < 400 && gateway.Running > 0; i++) await Task.Delay(25);
        var metrics = await server.MetricsAsync();
        Assert.That(metrics["engine_requests_waiting"], Is.Zero);
        Assert.That(metrics["engine_requests_running"], Is.Zero);
        using var next = await server.PostJsonAsync("/v1/completions", Completion);
        Assert.That(next.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Health_is_503_while_loading_then_200()
    {
        var release = new ManualResetEventSlim();
        await using var server = await TestServer.StartAsync(load: o =>
        {
            release.Wait(TimeSpan.FromSeconds(60));
            return InferenceEngine.Load(o.Model, o.Engine);
        }, waitReady: false);
        using (var loading = await server.Http.GetAsync("/health"))
        {
            Assert.That(loading.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            Assert.That((await ErrorOf(loading))["message"]!.GetValue<string>(), Does.Contain("loading"));
        }
        using (var early = await server.PostJsonAsync("/v1/completions", Completion))
            Assert.That(early.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        release.Set();
        await server.Host.Gateway.Loading.WaitAsync(TimeSpan.FromSeconds(60));
        using var ready = await server.Http.GetAsync("/health");
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task A_model_that_fails_to_load_keeps_health_503_with_the_reason()
    {
        await using var server = await TestServer.StartAsync(o => o with { Model = "/nonexistent/model/folder" }, waitReady: false);
        await server.Host.Gateway.Loading.WaitAsync(TimeSpan.FromSeconds(60));
        using var health = await server.Http.GetAsync("/health");
        Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That((await ErrorOf(health))["message"]!.GetValue<string>(), Does.Contain("failed to load"));
    }

    [Test]
    public async Task An_engine_fault_is_500_for_that_request_only()
    {
        int streams = 0;
        await using var server = await TestServer.StartAsync(load: o =>
        {
            string folder = o.Model;
            var config = ModelConfigLoader.Load(folder);
            var tokenizer = TextTokenizer.Load(folder);
            using var checkpoint = Checkpoint.Open(folder);
            // The first request's text stream fails on its third token; later ones work.
            return InferenceEngine.Create("faulty", BackendFactory.Create("cpu", 1), checkpoint, config, tokenizer: tokenizer,
                textStreams: () => new FaultyTextStream(new DetokenizerTextStream(tokenizer.CreateStreamingDetokenizer()), Interlocked.Increment(ref streams) == 1 ? 3 : int.MaxValue),
                ownsBackend: true);
        });
        using (var failed = await server.PostJsonAsync("/v1/completions", Completion))
        {
            Assert.That(failed.StatusCode, Is.EqualTo(HttpStatusCode.InternalServerError));
            var error = await ErrorOf(failed);
            Assert.That(error["type"]!.GetValue<string>(), Is.EqualTo("server_error"));
            Assert.That(error["message"]!.GetValue<string>(), Does.Contain("injected"));
        }
        using var next = await server.PostJsonAsync("/v1/completions", Completion);
        Assert.That(next.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var metrics = await server.MetricsAsync();
        Assert.That(metrics["engine_kv_pages_used"], Is.EqualTo(0), "the failed request's pages were freed");
    }

    private sealed class FaultyTextStream(ITokenTextStream inner, int failAt) : ITokenTextStream
    {
        private int _pushed;
        public string Push(int tokenId) => ++_pushed == failAt ? throw new InvalidOperationException("injected fault") : inner.Push(tokenId);
        public string Flush() => inner.Flush();
    }

    [Test]
    public async Task Concurrent_greedy_requests_return_what_each_returns_alone()
    {
        await using var server = await TestServer.StartAsync();
        string[] prompts = ["Once upon a time", "The dog", "Lily and Ben", "One day", "The sun was", "A little bird", "Tom had a", "In the park"];
        string Body(string p) => $$$"""{"prompt":"{{{p}}}","max_tokens":16,"temperature":0,"kv_policy":{"policy":"lagkv","ratio":"2x","lag_size":4,"sink_size":2}}""";
        var alone = new List<JsonObject>();
        foreach (string p in prompts) alone.Add(await server.PostForJsonAsync("/v1/completions", Body(p)));
        var together = await Task.WhenAll(prompts.Select(p => server.PostForJsonAsync("/v1/completions", Body(p))));
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.That(together[i]["choices"]![0]!["text"]!.GetValue<string>(), Is.EqualTo(alone[i]["choices"]![0]!["text"]!.GetValue<string>()), prompts[i]);
            Assert.That(together[i]["kv"]!.ToJsonString(), Is.EqualTo(alone[i]["kv"]!.ToJsonString()), prompts[i]);
        }
    }

    [Test]
    public async Task Load_with_random_cancellations_leaves_nothing_running_and_every_page_free()
    {
        await using var server = await TestServer.StartAsync();
        double freeAtStart = (await server.MetricsAsync())["engine_kv_pages_free"];
        var random = new Random(11);
        var plans = Enumerable.Range(0, 32).Select(i => (Cancel: i % 3 == 0, AfterChunks: random.Next(1, 8))).ToArray();
        int next = -1, completed = 0, cancelled = 0, healthFailures = 0;
        using var healthStop = new CancellationTokenSource();
        var healthWatch = Task.Run(async () =>
        {
            for (int i = 0; i < 2000 && !healthStop.IsCancellationRequested; i++)
            {
                using var health = await server.Http.GetAsync("/health");
                if (health.StatusCode != HttpStatusCode.OK) Interlocked.Increment(ref healthFailures);
                await Task.Delay(50);
            }
        });
        async Task Client()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < plans.Length)
            {
                var (cancel, after) = plans[i];
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
                string body = $$"""{"prompt":"Once upon a time","max_tokens":12,"ignore_eos":true,"stream":true,"seed":{{i}}}""";
                try
                {
                    using var response = await server.PostJsonAsync("/v1/completions", body, cancellation: cts.Token);
                    Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
                    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
                    int chunks = 0;
                    for (int line = 0; line < 200; line++)
                    {
                        string? text = await reader.ReadLineAsync(cts.Token);
                        if (text is null || text == "data: [DONE]") break;
                        if (text.StartsWith("data: ", StringComparison.Ordinal) && ++chunks == after && cancel) cts.Cancel();
                    }
                    Interlocked.Increment(ref completed);
                }
                catch (OperationCanceledException) when (cancel)
                {
                    Interlocked.Increment(ref cancelled);
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(Client))).WaitAsync(TimeSpan.FromMinutes(3));
        healthStop.Cancel();
        await healthWatch;
        Assert.That(completed + cancelled, Is.EqualTo(32));
        Assert.That(completed, Is.GreaterThanOrEqualTo(32 - plans.Count(p => p.Cancel)));
        Assert.That(healthFailures, Is.Zero);
        Dictionary<string, double> metrics = [];
        for (int i = 0; i < 200; i++)
        {
            metrics = await server.MetricsAsync();
            if (metrics["engine_requests_running"] == 0 && metrics["engine_kv_pages_free"] == freeAtStart) break;
            await Task.Delay(25);
        }
        Assert.That(metrics["engine_requests_running"], Is.EqualTo(0));
        Assert.That(metrics["engine_requests_waiting"], Is.EqualTo(0));
        Assert.That(metrics["engine_kv_pages_free"], Is.EqualTo(freeAtStart));
    }

    [Test]
    public async Task Stopping_refuses_new_requests_then_cancels_running_ones_after_the_grace()
    {
        await using var server = await TestServer.StartAsync(o => o with { ShutdownGrace = TimeSpan.FromSeconds(1), MaxQueue = 4 });
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var running = await server.PostJsonAsync("/v1/completions",
            """{"prompt":"Once upon a time","max_tokens":500,"ignore_eos":true,"stream":true}""", cancellation: cancel.Token);
        var body = running.Content.ReadAsStringAsync(cancel.Token);
        for (int i = 0; i < 200 && server.Host.Gateway.Running == 0; i++) await Task.Delay(10);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var stopping = Task.Run(server.Host.StopAsync); // as SIGTERM: the drain runs on another thread
        for (int i = 0; i < 200 && !server.Host.Gateway.IsDraining; i++) await Task.Delay(5);
        using (var refused = await server.PostJsonAsync("/v1/completions", Completion))
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(15)));
        Assert.That(server.Host.Gateway.Running, Is.Zero);
        string text = await body.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(text, Does.StartWith("data: "), "the running stream got its tokens until it was cancelled");
    }
}
