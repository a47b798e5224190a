using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using NUnit.Framework;

namespace Engine.Tests.Server;

/// <summary>The wire format with a raw HttpClient: SSE bytes, legacy completions, kv_policy, tokenize, errors.</summary>
[TestFixture]
[NonParallelizable]
public sealed class HttpApiTests
{
    private TestServer _server = null!;

    [OneTimeSetUp]
    public async Task StartServer() => _server = await TestServer.StartAsync();

    [OneTimeTearDown]
    public async Task StopServer() => await _server.DisposeAsync();

    private const string Prompt = "Once upon a time";

    [Test]
    public async Task Chat_stream_is_sse_with_role_first_finish_usage_and_done()
    {
        using var response = await _server.PostJsonAsync("/v1/chat/completions",
            """{"messages":[{"role":"user","content":"Hi"}],"max_tokens":5,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}""");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        var events = TestServer.SseEvents(await response.Content.ReadAsStringAsync());
        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        var chunks = events[..^1].Select(e => JsonNode.Parse(e)!.AsObject()).ToList();
        Assert.That(chunks.Select(c => c["id"]!.GetValue<string>()).Distinct().Count(), Is.EqualTo(1));
        Assert.That(chunks.All(c => c["object"]!.GetValue<string>() == "chat.completion.chunk"));
        Assert.That(chunks[0]["choices"]![0]!["delta"]!["role"]!.GetValue<string>(), Is.EqualTo("assistant"));
        var usage = chunks[^1];
        Assert.That(usage["choices"]!.AsArray(), Is.Empty);
        Assert.That(usage["usage"]!["completion_tokens"]!.GetValue<int>(), Is.EqualTo(5));
        var finish = chunks[^2];
        Assert.That(finish["choices"]![0]!["finish_reason"]!.GetValue<string>(), Is.EqualTo("length"));
        Assert.That(finish["kv"]!["logical_length"]!.GetValue<int>(), Is.GreaterThan(5));
        Assert.That(chunks.Count(c => c["choices"]!.AsArray().Any(x => x!["finish_reason"] is not null)), Is.EqualTo(1));
    }

    [Test]
    public async Task Completion_stream_without_usage_option_has_no_usage_chunk()
    {
        using var response = await _server.PostJsonAsync("/completions", $$"""{"prompt":"{{Prompt}}","max_tokens":4,"stream":true}""");
        var events = TestServer.SseEvents(await response.Content.ReadAsStringAsync());
        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        var chunks = events[..^1].Select(e => JsonNode.Parse(e)!.AsObject()).ToList();
        Assert.That(chunks.All(c => c["usage"] is null && c["choices"]!.AsArray().Count == 1));
        Assert.That(chunks.All(c => c["object"]!.GetValue<string>() == "text_completion"));
    }

    [Test]
    public async Task Completion_matches_engine_greedy_and_streaming_matches_whole()
    {
        var whole = await _server.PostForJsonAsync("/v1/completions", $$"""{"prompt":"{{Prompt}}","max_tokens":30,"temperature":0}""");
        string text = whole["choices"]![0]!["text"]!.GetValue<string>();
        Assert.That(text, Does.StartWith(", there was"));
        using var response = await _server.PostJsonAsync("/v1/completions", $$"""{"prompt":"{{Prompt}}","max_tokens":30,"temperature":0,"stream":true}""");
        var events = TestServer.SseEvents(await response.Content.ReadAsStringAsync());
        string streamed = string.Concat(events[..^1].Select(e => JsonNode.Parse(e)!["choices"]![0]!["text"]!.GetValue<string>()));
        Assert.That(streamed, Is.EqualTo(text));
    }

    [Test]
    public async Task Token_id_prompt_equals_text_prompt()
    {
        var ids = (await _server.PostForJsonAsync("/tokenize", $$"""{"content":"{{Prompt}}"}"""))["tokens"]!.AsArray();
        var fromText = await _server.PostForJsonAsync("/v1/completions", $$"""{"prompt":"{{Prompt}}","max_tokens":8,"temperature":0}""");
        var fromIds = await _server.PostForJsonAsync("/v1/completions", $$"""{"prompt":{{ids.ToJsonString()}},"max_tokens":8,"temperature":0}""");
        Assert.That(fromIds["choices"]![0]!["text"]!.GetValue<string>(), Is.EqualTo(fromText["choices"]![0]!["text"]!.GetValue<string>()));
        var back = await _server.PostForJsonAsync("/detokenize", $$"""{"tokens":{{ids.ToJsonString()}}}""");
        Assert.That(back["content"]!.GetValue<string>(), Does.Contain(Prompt));
    }

    [Test]
    public async Task Legacy_logprobs_give_tokens_logprobs_and_top_maps()
    {
        var reply = await _server.PostForJsonAsync("/v1/completions", $$"""{"prompt":"{{Prompt}}","max_tokens":5,"temperature":0,"logprobs":2}""");
        var logprobs = reply["choices"]![0]!["logprobs"]!;
        Assert.That(logprobs["tokens"]!.AsArray(), Has.Count.EqualTo(5));
        Assert.That(logprobs["token_logprobs"]!.AsArray(), Has.Count.EqualTo(5));
        Assert.That(logprobs["top_logprobs"]!.AsArray().All(t => t!.AsObject().Count is 1 or 2));
        Assert.That(string.Concat(logprobs["tokens"]!.AsArray().Select(t => t!.GetValue<string>())), Is.EqualTo(reply["choices"]![0]!["text"]!.GetValue<string>()));
    }

    [Test]
    public async Task Seeded_sampling_repeats_and_n_gives_distinct_indexed_choices()
    {
        string body = $$"""{"prompt":"{{Prompt}}","max_tokens":12,"temperature":1.0,"seed":7,"n":2}""";
        var first = await _server.PostForJsonAsync("/v1/completions", body);
        var again = await _server.PostForJsonAsync("/v1/completions", body);
        var choices = first["choices"]!.AsArray();
        Assert.That(choices.Select(c => c!["index"]!.GetValue<int>()), Is.EqualTo(new[] { 0, 1 }));
        Assert.That(first["choices"]!.ToJsonString(), Is.EqualTo(again["choices"]!.ToJsonString()), "same seed, same choices");
        Assert.That(first["usage"]!["completion_tokens"]!.GetValue<int>(), Is.EqualTo(24));
    }

    [Test]
    public async Task Kv_policy_compresses_and_reports_its_kv()
    {
        var full = await _server.PostForJsonAsync("/v1/completions", $$"""{"prompt":"{{Prompt}}","max_tokens":60,"temperature":0,"ignore_eos":true}""");
        var lag = await _server.PostForJsonAsync("/v1/completions",
            $$$"""{"prompt":"{{{Prompt}}}","max_tokens":60,"temperature":0,"ignore_eos":true,"kv_policy":{"policy":"lagkv","ratio":"4x","lag_size":8,"sink_size":4}}""");
        Assert.That(full["kv"]!["compression_ratio"]!.GetValue<double>(), Is.EqualTo(1.0));
        Assert.That(full["kv"]!["policy"]!.GetValue<string>(), Is.EqualTo("full"));
        var kv = lag["kv"]!;
        Assert.That(kv["policy"]!.GetValue<string>(), Is.EqualTo("lagkv"));
        Assert.That(kv["logical_length"]!.GetValue<int>(), Is.EqualTo(full["kv"]!["logical_length"]!.GetValue<int>()));
        Assert.That(kv["compression_ratio"]!.GetValue<double>(), Is.GreaterThan(1.5));
        Assert.That(kv["bytes_saved"]!.GetValue<long>(), Is.GreaterThan(0));
        Assert.That(kv["layers"]!.AsArray().All(l => l!["physical_length"]!.GetValue<int>() < l["logical_length"]!.GetValue<int>()));
        var metrics = await _server.MetricsAsync();
        Assert.That(metrics["engine_kv_bytes_saved_total{policy=\"lagkv\"}"], Is.GreaterThan(0));
    }

    [Test]
    public async Task Kv_of_a_request_matches_what_engine_run_reports_for_it()
    {
        var served = await _server.PostForJsonAsync("/v1/completions",
            $$$"""{"prompt":"{{{Prompt}}}","max_tokens":120,"temperature":0,"ignore_eos":true,"kv_policy":{"policy":"lagkv","ratio":"4x","lag_size":16,"sink_size":4}}""");
        var stdout = new StringWriter();
        int exit = Engine.Cli.CliApp.Run(["run", "--model", TestServer.ModelFolder, "--device", "cpu", "--threads", "1", "--prompt", Prompt,
            "--max-tokens", "120", "--temperature", "0", "--ignore-eos", "--lagkv", "4x", "--lag-size", "16", "--sink-size", "4", "--json"], stdout, new StringWriter());
        Assert.That(exit, Is.Zero);
        var run = JsonNode.Parse(stdout.ToString())!;
        var kv = served["kv"]!;
        Assert.That(served["choices"]![0]!["text"]!.GetValue<string>(), Is.EqualTo(run["text"]!.GetValue<string>()));
        Assert.That(kv["compression_ratio"]!.GetValue<double>(), Is.EqualTo(run["kv_policy"]!["compression_ratio"]!.GetValue<double>()));
        Assert.That(kv["bytes_saved"]!.GetValue<long>(), Is.EqualTo(run["kv_policy"]!["kv_bytes_saved"]!.GetValue<long>()));
        Assert.That(kv["pages_used"]!.GetValue<int>(), Is.EqualTo(run["kv"]!["pages_used"]!.GetValue<int>()));
        Assert.That(kv["layers"]!.AsArray().Select(l => l!["physical_length"]!.GetValue<int>()),
            Is.EqualTo(run["kv"]!["layers"]!.AsArray().Select(l => l!["physical_len"]!.GetValue<int>())));
    }

    [Test]
    public async Task Include_kv_streams_the_cache_as_it_compresses()
    {
        using var response = await _server.PostJsonAsync("/v1/completions",
            """{"prompt":"Once upon a time","max_tokens":80,"temperature":0,"ignore_eos":true,"stream":true,"stream_options":{"include_kv":true},"kv_policy":{"policy":"lagkv","ratio":"4x","lag_size":8,"sink_size":4}}""");
        var chunks = TestServer.SseEvents(await response.Content.ReadAsStringAsync())[..^1].Select(e => JsonNode.Parse(e)!).ToList();
        var live = chunks.Where(c => c["kv"] is not null && c["choices"]![0]!["finish_reason"] is null).Select(c => c["kv"]!).ToList();
        Assert.That(live, Has.Count.GreaterThanOrEqualTo(5));
        var lengths = live.Select(k => k["logical_length"]!.GetValue<int>()).ToList();
        Assert.That(lengths, Is.Ordered.Ascending);
        Assert.That(lengths[^1], Is.GreaterThan(lengths[0]));
        Assert.That(live[^1]["compression_ratio"]!.GetValue<double>(), Is.GreaterThan(1.2), "compression shows while the reply streams");
        var final = chunks.Single(c => c["choices"]![0]!["finish_reason"] is not null)["kv"]!;
        var whole = await _server.PostForJsonAsync("/v1/completions",
            """{"prompt":"Once upon a time","max_tokens":80,"temperature":0,"ignore_eos":true,"kv_policy":{"policy":"lagkv","ratio":"4x","lag_size":8,"sink_size":4}}""");
        Assert.That(final.ToJsonString(), Is.EqualTo(whole["kv"]!.ToJsonString()), "watching the cache does not change it");
    }

    [Test]
    public async Task Metrics_count_tokens_and_latencies()
    {
        await _server.PostForJsonAsync("/v1/completions", $$"""{"prompt":"{{Prompt}}","max_tokens":3}""");
        var metrics = await _server.MetricsAsync();
        Assert.That(metrics["engine_generation_tokens_total"], Is.GreaterThanOrEqualTo(3));
        Assert.That(metrics["engine_prompt_tokens_total"], Is.GreaterThan(0));
        Assert.That(metrics["engine_time_to_first_token_seconds_count"], Is.GreaterThanOrEqualTo(1));
        Assert.That(metrics["engine_inter_token_latency_seconds_count"], Is.GreaterThanOrEqualTo(2));
        Assert.That(metrics["engine_kv_pages_free"] + metrics["engine_kv_pages_used"], Is.EqualTo(metrics["engine_kv_pages_total"]));
        Assert.That(metrics["engine_requests_running"], Is.EqualTo(0));
    }

    [TestCase("{bad json", null)]
    [TestCase("[1,2]", null)]
    [TestCase("""{"prompt":"x","max_tokens":"ten"}""", "max_tokens")]
    [TestCase("""{"prompt":"x","max_tokens":0}""", "max_tokens")]
    [TestCase("""{"prompt":"x","temperature":-1}""", "temperature")]
    [TestCase("""{"prompt":"x","frequency_penalty":2.5}""", "frequency_penalty")]
    [TestCase("""{"prompt":"x","presence_penalty":-3}""", "presence_penalty")]
    [TestCase("""{"prompt":"x","response_format":{"type":"json_schema"}}""", "response_format")]
    [TestCase("""{"prompt":"x","unknown_thing":1}""", "unknown_thing")]
    [TestCase("""{"prompt":"x","n":0}""", "n")]
    [TestCase("""{"prompt":"x","max_tokens":600}""", "max_tokens")]
    [TestCase("""{"prompt":"x","kv_policy":{"policy":"lagkv"}}""", "kv_policy.ratio")]
    [TestCase("""{"prompt":"x","kv_policy":{"policy":"magic","ratio":"4x"}}""", "kv_policy.policy")]
    [TestCase("""{"max_tokens":3}""", "prompt")]
    [TestCase("""{"prompt":"x","messages":[]}""", "messages")]
    [TestCase("""{"prompt":[1,99999]}""", null)]
    public async Task Bad_requests_are_400_in_openai_shape(string body, string? param)
    {
        using var response = await _server.PostJsonAsync("/v1/completions", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.That(error["message"]!.GetValue<string>(), Is.Not.Empty);
        Assert.That(error["type"]!.GetValue<string>(), Is.EqualTo("invalid_request_error"));
        Assert.That(error.AsObject().ContainsKey("code"));
        if (param is not null) Assert.That(error["param"]?.GetValue<string>(), Is.EqualTo(param));
    }

    [Test]
    public async Task Prompt_beyond_context_is_400_before_any_stream()
    {
        string longPrompt = string.Join(' ', Enumerable.Repeat("hello", 600));
        using var response = await _server.PostJsonAsync("/v1/completions", $$"""{"prompt":"{{longPrompt}}","stream":true}""");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
        Assert.That(JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>(), Is.EqualTo("context_length_exceeded"));
    }

    [Test]
    public async Task Unknown_model_is_404()
    {
        using var response = await _server.PostJsonAsync("/v1/chat/completions", """{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}""");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>(), Is.EqualTo("model_not_found"));
    }

    [Test]
    public async Task Utf8_is_never_split_inside_a_character()
    {
        // Whatever the model writes, every chunk's text must be whole UTF-8: the raw bytes decode strictly.
        using var response = await _server.PostJsonAsync("/v1/completions", """{"prompt":"The café was naïve 😀","max_tokens":40,"temperature":1.2,"seed":3,"stream":true}""");
        byte[] bytes = await response.Content.ReadAsByteArrayAsync();
        string body = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        foreach (string e in TestServer.SseEvents(body)[..^1])
            Assert.That(JsonNode.Parse(e)!["choices"]![0]!["text"]!.GetValue<string>(), Does.Not.Contain("\uFFFD"));
    }

    [Test]
    public async Task Health_and_models_answer()
    {
        using var health = await _server.Http.GetAsync("/health");
        Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var models = JsonNode.Parse(await _server.Http.GetStringAsync("/v1/models"))!;
        Assert.That(models["data"]![0]!["id"]!.GetValue<string>(), Is.EqualTo(TestServer.ModelName));
    }

    [Test]
    public async Task Chat_page_is_served_from_the_assembly()
    {
        string html = await _server.Http.GetStringAsync("/");
        Assert.That(html, Does.Contain("<html"));
        Assert.That(html, Does.Not.Contain("https://"), "nothing fetched from outside");
        using var missing = await _server.Http.GetAsync("/static/nope.js");
        Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }
}
