using Engine.Cli;
using Engine.Server.Bench;
using NUnit.Framework;

namespace Engine.Tests.Server;

/// <summary>`engine bench --server`: the load generator against an in-process server, and its percentiles.</summary>
[TestFixture]
[NonParallelizable]
public sealed class ServerLoadGeneratorTests
{
    [Test]
    public void Percentiles_interpolate_between_ranks()
    {
        double[] sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        Assert.That(LatencySummary.Percentile(sorted, 50), Is.EqualTo(5.5));
        Assert.That(LatencySummary.Percentile(sorted, 90), Is.EqualTo(9.1).Within(1e-9));
        Assert.That(LatencySummary.Percentile(sorted, 0), Is.EqualTo(1));
        Assert.That(LatencySummary.Percentile(sorted, 100), Is.EqualTo(10));
    }

    [Test]
    public async Task Bench_server_reports_every_request_and_its_tokens()
    {
        await using var server = await TestServer.StartAsync();
        var report = await ServerLoadGenerator.RunAsync(new LoadSettings(server.Address, Concurrency: 3, Requests: 6, PromptTokens: 20, GenTokens: 8));
        Assert.That(report.Completed, Is.EqualTo(6));
        Assert.That(report.Failed, Is.Zero);
        Assert.That(report.OutputTokens, Is.EqualTo(48));
        Assert.That(report.Ttft.P50, Is.GreaterThan(0));
        Assert.That(report.Itl.P50, Is.GreaterThan(0));
        Assert.That(report.E2e.P99, Is.GreaterThanOrEqualTo(report.E2e.P50));
        Assert.That(report.DecodeTokensPerSecond, Is.GreaterThan(0));
        Assert.That(report.ClientCpuSeconds, Is.GreaterThan(0));
        Assert.That(report.ServerCpuSeconds, Is.GreaterThan(0), "read from the server's process_cpu_seconds_total");
        var metrics = await server.MetricsAsync();
        Assert.That(metrics["engine_prompt_tokens_total"], Is.EqualTo(6 * 20));

        var stdout = new StringWriter();
        int exit = CliApp.Run(["bench", "--server", server.Address.ToString(), "--concurrency", "2", "--requests", "2", "--prompt-tokens", "10", "--gen-tokens", "4", "--json"], stdout, new StringWriter());
        Assert.That(exit, Is.Zero);
        var json = System.Text.Json.Nodes.JsonNode.Parse(stdout.ToString())!;
        Assert.That(json["completed"]!.GetValue<int>(), Is.EqualTo(2));
        Assert.That(json["ttft_ms"]!["p90"]!.GetValue<double>(), Is.GreaterThan(0));
        Assert.That(json["decode_tokens_per_s"]!.GetValue<double>(), Is.GreaterThan(0));
        Assert.That(json["server_cpu_s"]!.GetValue<double>(), Is.GreaterThan(0));
    }

    [Test]
    public void Bench_without_model_or_server_is_one_clear_error()
    {
        var stderr = new StringWriter();
        Assert.That(CliApp.Run(["bench"], new StringWriter(), stderr), Is.EqualTo(1));
        Assert.That(stderr.ToString(), Does.StartWith("error: --model is required"));
    }
}
