using Engine.Models.Kv;
using System.Text.Json;
using Engine.Cli;
using Engine.Core.Text;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Cli;

/// <summary>`engine run` in-process on stories260K (SIMD CPU backend).</summary>
public class RunCommandTests
{
    private static string Stories => SharedAssets.Require("models", "stories260K");

    [Test]
    public void GreedyTwoHundredTokensReproduceLlama2cText()
    {
        string expected = File.ReadAllText(Path.Combine(Stories, "expected_greedy_200.txt"));
        var (code, output, error) = Run("run", "--model", Stories, "--prompt-ids", "1", "--max-tokens", "200", "--temperature", "0", "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output, Is.EqualTo(expected + Environment.NewLine));
        Assert.That(error, Does.Contain("200 generated").And.Contain("finish length"));
    }

    [Test]
    public void JsonCarriesIdsTimingsAndKvStatistics()
    {
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(Stories, "reference_greedy.json")));
        var expectedIds = reference.RootElement.GetProperty("greedy_ids").EnumerateArray().Select(e => e.GetInt32()).Take(50).ToArray();
        var (code, output, error) = Run("run", "--model", Stories, "--prompt-ids", "1", "--max-tokens", "50", "--temperature", "0",
            "--device", "cpu", "--json", "--page-size", "32", "--prefill-chunk", "0");
        Assert.That(code, Is.EqualTo(0), error);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        JsonKeys.AssertSnakeCase(root);
        Assert.That(root.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(expectedIds));
        Assert.That(root.GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(1));
        Assert.That(root.GetProperty("finish_reason").GetString(), Is.EqualTo("length"));
        Assert.That(root.GetProperty("text").GetString(), Does.StartWith("Once upon a time"));
        Assert.That(root.GetProperty("device").GetString(), Is.Not.Empty);
        foreach (string timing in new[] { "load_ms", "prefill_ms", "decode_ms", "ttft_ms", "prefill_tokens_per_s", "decode_tokens_per_s" })
            Assert.That(root.GetProperty("timings").GetProperty(timing).GetDouble(), Is.GreaterThan(0), timing);
        var kv = root.GetProperty("kv");
        Assert.That(kv.GetProperty("page_size").GetInt32(), Is.EqualTo(32));
        Assert.That(kv.GetProperty("pages_used").GetInt32(), Is.EqualTo(5 * 2)); // 50 slots in 32-slot pages, 5 layers
        Assert.That(kv.GetProperty("bytes").GetInt64(), Is.EqualTo(10L * 2 * 4 * 32 * 8 * 4));
        var layers = kv.GetProperty("layers").EnumerateArray().ToArray();
        Assert.That(layers, Has.Length.EqualTo(5));
        Assert.That(layers.All(l => l.GetProperty("logical_len").GetInt32() == 50 && l.GetProperty("physical_len").GetInt32() == 50));
        Assert.That(root.TryGetProperty("logprobs", out _), Is.False);
    }

    [Test]
    public void TextPromptStopStringAndLogprobs()
    {
        var tokenizer = TextTokenizer.Load(Stories);
        var (code, output, error) = Run("run", "--model", Stories, "--prompt", "Once upon a time", "--max-tokens", "60", "--temperature", "0",
            "--device", "cpu", "--json", "--logprobs", "3", "--stop", "Lily");
        Assert.That(code, Is.EqualTo(0), error);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.That(root.GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(tokenizer.Encode("Once upon a time").Length));
        Assert.That(root.GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
        string text = root.GetProperty("text").GetString()!;
        Assert.That(text, Does.Not.Contain("Lily"));
        var ids = root.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.That(tokenizer.Decode(ids), Does.StartWith(text).And.Contain("Lily"));
        var logprobs = root.GetProperty("logprobs").EnumerateArray().ToArray();
        Assert.That(logprobs, Has.Length.EqualTo(ids.Length));
        for (int i = 0; i < ids.Length; i++)
        {
            var top = logprobs[i].EnumerateArray().ToArray();
            Assert.That(top, Has.Length.EqualTo(3));
            Assert.That(top[0].GetProperty("id").GetInt32(), Is.EqualTo(ids[i]), "greedy picks the most likely token");
            Assert.That(top[0].GetProperty("logprob").GetDouble(), Is.LessThan(0));
        }
    }

    [Test]
    public void SeededSamplingIsReproducible()
    {
        string[] args = ["run", "--model", Stories, "--prompt-ids", "1", "--max-tokens", "30", "--temperature", "0.9", "--top-p", "0.9",
            "--top-k", "40", "--min-p", "0.01", "--repetition-penalty", "1.1", "--seed", "123", "--device", "cpu", "--json"];
        var a = Run(args);
        var b = Run(args);
        Assert.That(a.Code, Is.EqualTo(0), a.Err);
        using var da = JsonDocument.Parse(a.Out);
        using var db = JsonDocument.Parse(b.Out);
        Assert.That(da.RootElement.GetProperty("tokens").ToString(), Is.EqualTo(db.RootElement.GetProperty("tokens").ToString()));
    }

    [TestCase("--prompt-ids", "1,x", "not a token id")]
    [TestCase("--kv-memory", "12Q", "not a memory size")]
    [TestCase("--logprobs", "21", "between 0 and 20")]
    [TestCase("--page-size", "24", "power of two")]
    [TestCase("--kv-dtype", "int8", "--kv-dtype")]
    [TestCase("--prefill-chunk", "abc", "--prefill-chunk")]
    [TestCase("--temperature", "-1", "temperature")]
    [TestCase("--top-p", "1.5", "top-p")]
    [TestCase("--max-tokens", "0", "max tokens")]
    [TestCase("--device", "tpu", "unknown device")]
    public void BadValuesAreOneLineErrors(string flag, string value, string expected)
    {
        var args = new List<string> { "run", "--model", Stories, "--device", "cpu" };
        if (flag != "--prompt-ids") args.AddRange(["--prompt-ids", "1"]);
        if (flag == "--device") args.RemoveRange(3, 2);
        args.AddRange([flag, value]);
        var (code, output, error) = Run(args.ToArray());
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(error, Does.StartWith("error: ").And.Contain(expected));
        Assert.That(output, Is.Empty);
    }

    [Test]
    public void PromptSourcesAreExclusiveAndRequired()
    {
        var none = Run("run", "--model", Stories, "--device", "cpu");
        Assert.That(none.Code, Is.EqualTo(1));
        Assert.That(none.Err, Does.Contain("exactly one of --prompt, --prompt-ids or --chat"));
        var both = Run("run", "--model", Stories, "--device", "cpu", "--prompt", "hi", "--prompt-ids", "1");
        Assert.That(both.Code, Is.EqualTo(1));
    }

    [Test]
    public void PromptLongerThanTheContextFailsBeforeGenerating()
    {
        string ids = string.Join(',', Enumerable.Repeat(5, 513));
        var (code, output, error) = Run("run", "--model", Stories, "--device", "cpu", "--prompt-ids", ids);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("513 tokens").And.Contain("context of 512"));
        Assert.That(output, Is.Empty);
    }

    [Test]
    public void LagKvTextCompressTheCacheAndAreReported()
    {
        var (code, output, error) = Run("run", "--model", Stories, "--prompt-ids", "1", "--max-tokens", "150", "--temperature", "0",
            "--device", "cpu", "--json", "--lagkv", "4x", "--lag-size", "16", "--sink-size", "4", "--prefill-chunk", "auto");
        Assert.That(code, Is.EqualTo(0), error);
        using var doc = JsonDocument.Parse(output);
        var layers = doc.RootElement.GetProperty("kv").GetProperty("layers").EnumerateArray().ToArray();
        Assert.That(layers.All(l => l.GetProperty("logical_len").GetInt32() == 150));
        Assert.That(layers.All(l => l.GetProperty("physical_len").GetInt32() < 150));
        Assert.That(doc.RootElement.GetProperty("kv_policy").GetProperty("policy").GetString(), Is.EqualTo("lagkv"));
    }

    [Test]
    public void ChatNeedsATemplate()
    {
        var (code, _, error) = Run("run", "--model", Stories, "--device", "cpu", "--chat");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("no chat template"));
    }

    [Test]
    public void ChatRunsTurnsFromStdinThroughTheTemplate()
    {
        using var folder = new TempFolder();
        foreach (string file in Directory.GetFiles(Stories)) File.Copy(file, folder.File(Path.GetFileName(file)));
        File.WriteAllText(folder.File("chat_template.jinja"),
            "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}");
        File.WriteAllText(folder.File("tokenizer_config.json"), "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}");
        var stdin = Console.In;
        Console.SetIn(new StringReader("Tell me a story\nAnother one\n\nignored\n"));
        try
        {
            var (code, output, error) = Run("run", "--model", folder.Path, "--device", "cpu", "--chat", "--system", "Be kind", "--max-tokens", "8", "--temperature", "0");
            Assert.That(code, Is.EqualTo(0), error);
            Assert.That(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2), "two replies, then the empty line ends the chat");
            Assert.That(error.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2));
        }
        finally { Console.SetIn(stdin); }
    }
}
