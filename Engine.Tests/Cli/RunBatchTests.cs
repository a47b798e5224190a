using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Cli;

/// <summary>
/// `engine run --batch`: every line, run concurrently with the others, gives what `engine run` gives
/// for it alone (greedy, f32 KV), on stories260K with a chat template; bad lines are one-line errors.
/// </summary>
public class RunBatchTests
{
    private static readonly string[] Common = ["--kv-dtype", "f32", "--device", "cpu", "--json"];
    /// <summary>The batch's command-line defaults; a line's alone run takes those its own flags do not set.</summary>
    private static readonly (string Flag, string Value)[] Defaults = [("--temperature", "0"), ("--max-tokens", "40")];

    /// <summary>The first 99 greedy tokens after BOS: a 100-token prompt, long enough for LagKV (S 4, L 32) to compress during prefill.</summary>
    private static int[] LongPrompt()
    {
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedAssets.Require("models", "stories260K"), "reference_greedy.json")));
        return [1, .. reference.RootElement.GetProperty("greedy_ids").EnumerateArray().Select(e => e.GetInt32()).Take(99)];
    }

    /// <summary>Each case: a batch line and the `engine run` flags that ask for the same alone.</summary>
    private static (string Line, string[] Flags)[] Cases()
    {
        string ids = string.Join(",", LongPrompt());
        string lag = $"\"prompt_ids\": [{ids}], \"max_tokens\": 120, \"ignore_eos\": true, \"lag_size\": 32, \"sink_size\": 4, \"lagkv_mode\": \"reference\"";
        string[] lagFlags = ["--prompt-ids", ids, "--max-tokens", "120", "--ignore-eos", "--lag-size", "32", "--sink-size", "4", "--lagkv-mode", "reference"];
        return
        [
            ("{\"prompt\": \"Once upon a time\"}", ["--prompt", "Once upon a time"]),
            ("{\"prompt_ids\": [1], \"max_tokens\": 60, \"logprobs\": 3}", ["--prompt-ids", "1", "--max-tokens", "60", "--logprobs", "3"]),
            ("{\"messages\": [{\"role\": \"system\", \"content\": \"Lily\"}, {\"role\": \"user\", \"content\": \"A cat\"}]}", ["--system", "Lily", "--prompt", "A cat"]),
            ("{\"prompt\": \"The dog ran\", \"stop\": [\"the\"]}", ["--prompt", "The dog ran", "--stop", "the"]),
            ($"{{{lag}, \"lagkv\": \"4x\", \"prefill_chunk\": 0, \"logprobs\": 2}}", [.. lagFlags, "--lagkv", "4x", "--prefill-chunk", "0", "--logprobs", "2"]),
            ($"{{{lag}, \"kv_policy\": \"lagkv\", \"lagkv\": \"4x\", \"prefill_chunk\": \"auto\"}}", [.. lagFlags, "--lagkv", "4x", "--prefill-chunk", "auto"]),
            ($"{{{lag}, \"lagkv\": \"8x\", \"prefill_chunk\": 16}}", [.. lagFlags, "--lagkv", "8x", "--prefill-chunk", "16"]),
            ($"{{{lag}, \"kv_policy\": \"streaming\", \"lagkv\": \"2x\"}}", [.. lagFlags, "--kv-policy", "streaming", "--lagkv", "2x"]),
            ("{\"prompt\": \"Tim\", \"temperature\": 0.8, \"top_k\": 20, \"seed\": 5}", ["--prompt", "Tim", "--temperature", "0.8", "--top-k", "20", "--seed", "5"]),
        ];
    }

    /// <summary>A result without its timings (which differ from run to run) and logprobs (compared within 1e-4).</summary>
    private static string Comparable(string json)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        node.Remove("timings");
        node.Remove("logprobs");
        return node.ToJsonString();
    }

    private static (int Id, double Logprob)[] Logprobs(string json) =>
        JsonNode.Parse(json)!["logprobs"] is JsonArray steps
            ? steps.SelectMany(s => s!.AsArray()).Select(e => (e!["id"]!.GetValue<int>(), e["logprob"]!.GetValue<double>())).ToArray()
            : [];

    [Test]
    public void EachLineGivesWhatRunGivesAlone()
    {
        using var model = StoriesChatModel.Create();
        var cases = Cases();
        using var folder = new TempFolder();
        string file = folder.File("batch.jsonl");
        File.WriteAllLines(file, cases.Select(c => c.Line).Prepend("").ToArray()); // a blank line is skipped

        var (code, output, error) = Run(["run", "--model", model.Path, "--batch", file, .. Common, .. Defaults.SelectMany(d => new[] { d.Flag, d.Value })]);
        Assert.That(code, Is.EqualTo(0), error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(cases.Length));
        for (int i = 0; i < cases.Length; i++)
        {
            var defaults = Defaults.Where(d => !cases[i].Flags.Contains(d.Flag)).SelectMany(d => new[] { d.Flag, d.Value });
            var (aloneCode, alone, aloneError) = Run(["run", "--model", model.Path, .. Common, .. defaults, .. cases[i].Flags]);
            Assert.That(aloneCode, Is.EqualTo(0), aloneError);
            string what = $"line {i + 2}: {cases[i].Line[..Math.Min(80, cases[i].Line.Length)]}";
            Assert.That(Comparable(lines[i]), Is.EqualTo(Comparable(alone)), what);
            var (batched, single) = (Logprobs(lines[i]), Logprobs(alone));
            Assert.That(batched.Select(l => l.Id), Is.EqualTo(single.Select(l => l.Id)), what);
            for (int k = 0; k < single.Length; k++)
                Assert.That(batched[k].Logprob, Is.EqualTo(single[k].Logprob).Within(1e-4), what);
        }
        // The LagKV lines compressed (their physical length is below the logical one).
        var lagKv = JsonNode.Parse(lines[4])!["kv_policy"]!;
        Assert.That(lagKv["compression_ratio"]!.GetValue<double>(), Is.GreaterThan(1.5));
    }

    [Test]
    public void TextOutputGivesOneTextAndSummaryPerLine()
    {
        using var model = StoriesChatModel.Create();
        using var folder = new TempFolder();
        string file = folder.File("batch.jsonl");
        File.WriteAllLines(file, ["{\"prompt\": \"Once upon a time\"}", "{\"prompt_ids\": [1, 2, 3], \"max_tokens\": 5}"]);
        var (code, output, error) = Run("run", "--model", model.Path, "--batch", file, "--temperature", "0", "--device", "cpu", "--max-tokens", "8");
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2));
        Assert.That(error, Does.Contain("line 1: [").And.Contain("line 2: [5 ").Or.Contain("line 2: [3 prompt tokens, 5 generated"));
        Assert.That(error, Does.Contain("2 requests"));
    }

    [TestCase("{\"prompt\": \"a\"}\n{\"prompt\": \"b\"\n", "--batch line 2: not valid JSON")]
    [TestCase("{\"prompt\": \"a\"}\n\n{\"prompt\": \"b\", \"max_token\": 3}\n", "--batch line 3: unknown field 'max_token'")]
    [TestCase("{\"prompt\": \"a\", \"prompt_ids\": [1]}\n", "--batch line 1: give exactly one of prompt, prompt_ids or messages")]
    [TestCase("{\"prompt\": \"a\", \"max_tokens\": \"ten\"}\n", "--batch line 1: field 'max_tokens' has the wrong type")]
    [TestCase("{\"prompt\": \"a\"}\n{\"prompt\": \"b\", \"lagkv\": \"99x\"}\n", "--batch line 2: lagkv '99x'")]
    [TestCase("{\"prompt\": \"a\"}\n{\"prompt_ids\": [1, 100000]}\n", "--batch line 2: prompt token id 100000 is outside the vocabulary")]
    [TestCase("{\"prompt\": \"a\"}\n{\"prompt\": \"b\", \"temperature\": -1}\n", "--batch line 2: temperature must be >= 0")]
    [TestCase("[1, 2]\n", "--batch line 1: expected a JSON object")]
    public void MalformedLineIsAOneLineErrorAndNothingRuns(string content, string expected)
    {
        string stories = SharedAssets.Require("models", "stories260K");
        using var folder = new TempFolder();
        string file = folder.File("batch.jsonl");
        File.WriteAllText(file, content);
        var (code, output, error) = Run("run", "--model", stories, "--batch", file, "--device", "cpu", "--json");
        Assert.That(code, Is.Not.Zero);
        Assert.That(output, Is.Empty, "nothing ran");
        Assert.That(error.Trim(), Does.StartWith("error: " + expected));
        Assert.That(error.Trim().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public void BatchIsOneOfThePromptSources()
    {
        string stories = SharedAssets.Require("models", "stories260K");
        var (code, _, error) = Run("run", "--model", stories, "--batch", "x.jsonl", "--prompt", "a", "--device", "cpu");
        Assert.That(code, Is.Not.Zero);
        Assert.That(error, Does.Contain("give exactly one of --prompt, --prompt-ids or --chat, or --batch FILE"));
        (code, _, error) = Run("run", "--model", stories, "--batch", "missing.jsonl", "--device", "cpu");
        Assert.That(error.Trim(), Is.EqualTo("error: --batch file 'missing.jsonl' not found"));
    }
}
