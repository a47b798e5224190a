using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Engine.Cli.Formatting;
using Engine.Cli.Options;
using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Models;
using Engine.Models.Evaluation;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine eval quant --model M --quantized Q [--text FILE] [--tokens N] [--ctx N] [--device D] [--json]`: what
/// quantization costs, as llama-perplexity --kl-divergence reports it: mean/median/99th-percentile/max KL, top-1
/// agreement, both perplexities and their ratio, Δp. Q is a GGUF file or any model, or a --quantize type applied to M.
/// </summary>
internal static partial class EvalQuantCommand
{
    public const int DefaultChunk = 512;
    private const int DefaultFillerChunks = 8;

    public static Command Create()
    {
        var model = CommonOptions.Model("Reference model: a registry name, an org/name[:TAG] repo id, a folder or a GGUF file");
        var quantized = new Option<string>("--quantized", "-q")
        { Description = "The quantized model (a GGUF file, folder or hub reference), or a --quantize type applied to --model: " + QuantizedCheckpoint.Choices, Required = true };
        var text = new Option<string?>("--text") { Description = "Text file to evaluate (default: built-in plain sentences)" };
        var tokens = new Option<int?>("--tokens") { Description = $"Evaluate at most this many tokens of the text (default: all of a --text; {DefaultFillerChunks} chunks of the built-in text)" };
        var ctx = new Option<int>("--ctx", "-c") { Description = "Chunk size in tokens, as llama-perplexity's -c (at most the context); the second half of each chunk is scored", DefaultValueFactory = _ => DefaultChunk };
        var device = CommonOptions.Device();
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var command = new Command("quant", "Compare a quantized model with its reference over a text (KL divergence, top-1 agreement, perplexity ratio)");
        foreach (var option in new Option[] { model, quantized, text, tokens, ctx, device, json }) command.Options.Add(option);
        command.SetAction(new Func<ParseResult, int>(parsed =>
        {
            int? limit = parsed.GetValue(tokens);
            if (limit is < 4) throw new EngineException($"--tokens must be at least 4, got {limit}");
            string? textPath = parsed.GetValue(text);
            if (textPath is not null && !File.Exists(textPath)) throw new EngineException($"--text '{textPath}': file not found");

            var reference = EvalModel.Open(parsed.GetValue(model)!);
            string quantizedArgument = parsed.GetValue(quantized)!;
            DType? quantizeType = IsTypeName(quantizedArgument) ? QuantizedCheckpoint.ParseType(quantizedArgument) : null;
            var other = quantizeType is null ? EvalModel.Open(quantizedArgument) : reference;
            int chunk = Math.Min(parsed.GetValue(ctx), Math.Min(reference.ContextLimit, other.ContextLimit));
            if (parsed.GetValue(ctx) < 4) throw new EngineException($"--ctx must be at least 4, got {parsed.GetValue(ctx)}");

            int[] ids = textPath is not null
                ? reference.Tokenizer.Encode(File.ReadAllText(textPath), addSpecialTokens: false)
                : Filler(reference, limit ?? chunk * DefaultFillerChunks);
            if (limit is int n && ids.Length > n) ids = ids[..n];
            if (ids.Length < chunk)
                throw new EngineException($"the text gives {ids.Length} tokens, less than one chunk of {chunk} (--ctx); give a longer text or a smaller --ctx");
            int? bos = reference.Tokenizer.AddsBos ? reference.Tokenizer.BosId : null;

            string deviceName = parsed.GetValue(device)!;
            using var referenceEngine = reference.Load(deviceName, chunk, sequences: 1);
            using var quantizedEngine = other.Load(deviceName, chunk, sequences: 1, quantizeType);
            var result = QuantEvaluation.Run(referenceEngine.Model, referenceEngine.Cache, quantizedEngine.Model, quantizedEngine.Cache, ids, chunk, bos);

            string quantizedName = quantizeType is DType t ? $"{reference.Folder} --quantize {DTypes.SafetensorsName(t).ToLowerInvariant()}" : other.Folder;
            var output = parsed.InvocationConfiguration.Output;
            if (parsed.GetValue(json)) WriteJson(output, result, reference.Folder, quantizedName, referenceEngine.Backend.Name);
            else WriteText(output, result, reference.Folder, quantizedName);
            return 0;
        }));
        return command;
    }

    /// <summary>A --quantized value that names a quantization type (q8_0, Q4_K, ...) rather than a model.</summary>
    private static bool IsTypeName(string value) => !File.Exists(value) && !Directory.Exists(value) && TypeName().IsMatch(value);

    private static int[] Filler(EvalModel model, int tokens)
    {
        int words = tokens;
        while (true)
        {
            int[] ids = model.Tokenizer.Encode(string.Join(' ', FillerText.Words(words)), addSpecialTokens: false);
            if (ids.Length >= tokens) return ids[..tokens];
            words *= 2;
        }
    }

    private static void WriteText(TextWriter o, QuantEvalResult r, string reference, string quantized)
    {
        o.WriteLine($"reference: {reference}");
        o.WriteLine($"quantized: {quantized}");
        o.WriteLine($"text: {r.Tokens} tokens in {r.Chunks} chunks of {r.ChunkSize}, {r.Positions} positions scored (the second half of each chunk)");
        o.WriteLine($"PPL(reference)        {F(r.PerplexityReference, "0.0000")}");
        o.WriteLine($"PPL(quantized)        {F(r.PerplexityQuantized, "0.0000")}");
        o.WriteLine($"PPL ratio             {F(r.PerplexityRatio, "0.0000")}");
        o.WriteLine($"mean KL               {F(r.MeanKl, "0.000000")}");
        o.WriteLine($"median KL             {F(r.MedianKl, "0.000000")}");
        o.WriteLine($"99% KL                {F(r.Kl99, "0.000000")}");
        o.WriteLine($"max KL                {F(r.MaxKl, "0.000000")}");
        o.WriteLine($"same top-1            {F(r.Top1Agreement * 100, "0.00")} %");
        o.WriteLine($"mean Δp               {F(r.MeanDeltaP * 100, "0.000")} %");
        o.WriteLine($"RMS Δp                {F(r.RmsDeltaP * 100, "0.000")} %");
        o.WriteLine("KL(reference || quantized) of the next-token distributions, in nats per position");
    }

    private static void WriteJson(TextWriter output, QuantEvalResult r, string reference, string quantized, string backend)
    {
        var document = new
        {
            reference, quantized, backend,
            tokens = r.Tokens, chunkSize = r.ChunkSize, chunks = r.Chunks, positions = r.Positions,
            perplexityReference = r.PerplexityReference, perplexityQuantized = r.PerplexityQuantized, perplexityRatio = r.PerplexityRatio,
            meanKl = r.MeanKl, medianKl = r.MedianKl, kl99 = r.Kl99, maxKl = r.MaxKl, top1Agreement = r.Top1Agreement,
            meanDeltaP = r.MeanDeltaP, rmsDeltaP = r.RmsDeltaP,
        };
        output.WriteLine(JsonSerializer.Serialize(document, CliJson.Indented));
    }

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    [GeneratedRegex("^[qQ][0-9]_[0-9A-Za-z]+$")]
    private static partial Regex TypeName();
}
