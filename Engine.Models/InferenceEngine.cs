using System.Diagnostics;
using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Config;
using Engine.Core.Hub;
using Engine.Core.Sampling;
using Engine.Core.Text;
using Engine.Core.Text.Templates;
using Engine.Kernels;
using Engine.Models.Generation;
using Engine.Models.Kv;
using Engine.Models.Weights;

namespace Engine.Models;

/// <summary>
/// A loaded model ready to generate: weights on a backend, a paged KV store, the model's generation
/// defaults. The entry point of the library:
/// <code>
/// using var engine = InferenceEngine.Load("stories260K", new EngineOptions { Device = "cpu" });
/// var completion = engine.Generate([1], new GenerationOptions { MaxTokens = 50 });
/// await foreach (var token in completion.StreamAsync(ct)) Console.Write(token.Text);
/// </code>
/// Requests run one at a time. Dispose returns all device memory.
/// </summary>
public sealed class InferenceEngine : IDisposable
{
    private readonly bool _ownsBackend;
    private readonly Func<ITokenTextStream>? _textStreams;
    private int _busy;
    private bool _disposed;

    private InferenceEngine(string name, IBackend backend, bool ownsBackend, ModelConfig config, GenerationDefaults defaults,
        ModelWeights weights, PagedKvCache cache, int contextLimit, double loadMs, TextTokenizer? tokenizer,
        ChatTemplate? chatTemplate, Func<ITokenTextStream>? textStreams)
    {
        Name = name; Backend = backend; _ownsBackend = ownsBackend; Config = config; GenerationDefaults = defaults;
        Weights = weights; Cache = cache; ContextLimit = contextLimit; LoadMs = loadMs;
        Tokenizer = tokenizer; ChatTemplate = chatTemplate;
        _textStreams = textStreams ?? (tokenizer is null ? null : () => new DetokenizerTextStream(tokenizer.CreateStreamingDetokenizer()));
        Model = new LlamaModel(backend, config, weights);
    }

    /// <summary>The model's name as given to <see cref="Load"/>.</summary>
    public string Name { get; }
    public IBackend Backend { get; }
    public ModelConfig Config { get; }
    /// <summary>generation_config.json (united with config.json's BOS/EOS).</summary>
    public GenerationDefaults GenerationDefaults { get; }
    public ModelWeights Weights { get; }
    public LlamaModel Model { get; }
    public PagedKvCache Cache { get; }
    /// <summary>Most tokens a sequence may hold (prompt plus generated).</summary>
    public int ContextLimit { get; }
    /// <summary>Milliseconds the load took (reading, upload, KV pool).</summary>
    public double LoadMs { get; }
    /// <summary>The model's tokenizer (tokenizer.json, else tokenizer.model or vocab.json + merges.txt), or null when the folder has none (token ids only).</summary>
    public TextTokenizer? Tokenizer { get; }
    /// <summary>The model's chat template, or null when it has none.</summary>
    public ChatTemplate? ChatTemplate { get; }

    /// <summary>
    /// Loads a model by registry name, Hugging Face repo id or folder onto the device
    /// <paramref name="options"/> names; errors are <see cref="EngineException"/>s.
    /// </summary>
    public static InferenceEngine Load(string model, EngineOptions? options = null)
    {
        options ??= new EngineOptions();
        var clock = Stopwatch.StartNew();
        string folder = ModelLocator.ResolveFolder(model);
        var config = ModelConfigLoader.Load(folder);
        var defaults = GenerationConfigLoader.Load(folder, config);
        var tokenizer = TextTokenizer.ExistsIn(folder) ? TextTokenizer.Load(folder) : null;
        var chatTemplate = ChatTemplate.Load(folder);
        using var checkpoint = Checkpoint.Open(folder);
        WeightSpec.Check(config, checkpoint); // before the device is touched
        var backend = BackendFactory.Create(options.Device, options.Threads, options.Kernels);
        try
        {
            return Create(model, backend, checkpoint, config, defaults, options, tokenizer, chatTemplate, ownsBackend: true, clock: clock);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Builds an engine from parts already at hand (a backend, an open checkpoint, a config). The
    /// checkpoint may be disposed afterwards: the weights are copied to the backend.
    /// <paramref name="textStreams"/> makes the text stream of each request (default: the tokenizer's
    /// streaming detokenizer; none without a tokenizer: ids only).
    /// </summary>
    public static InferenceEngine Create(string name, IBackend backend, ICheckpoint checkpoint, ModelConfig config,
        GenerationDefaults? defaults = null, EngineOptions? options = null, TextTokenizer? tokenizer = null,
        ChatTemplate? chatTemplate = null, Func<ITokenTextStream>? textStreams = null, bool ownsBackend = false, Stopwatch? clock = null)
    {
        options ??= new EngineOptions();
        clock ??= Stopwatch.StartNew();
        int contextLimit = options.ContextLimit ?? config.MaxPositionEmbeddings;
        if (contextLimit < 1) throw new EngineException($"context limit must be >= 1, got {contextLimit}");
        DType kvDType = options.KvDType ?? config.DType;
        var weights = ModelWeights.Upload(backend, checkpoint, config);
        try
        {
            int pages = PagedKvCache.PagesFor(backend, config, options.PageSize, kvDType, options.KvMemoryBytes, contextLimit);
            var cache = new PagedKvCache(backend, config, pages, options.PageSize, kvDType);
            backend.Synchronize();
            return new InferenceEngine(name, backend, ownsBackend, config, defaults ?? GenerationDefaults.From(config),
                weights, cache, contextLimit, clock.Elapsed.TotalMilliseconds, tokenizer, chatTemplate, textStreams);
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>Whether text (prompts, stop strings) can be used: the engine has a tokenizer.</summary>
    public bool HasText => _textStreams is not null;

    /// <summary>The request options generation_config.json implies (greedy unless it turns sampling on).</summary>
    public GenerationOptions DefaultOptions()
    {
        var g = GenerationDefaults;
        return new GenerationOptions
        {
            MaxTokens = g.MaxNewTokens ?? 256,
            EosTokenIds = EosTokenIds,
            Sampling = new SamplingOptions
            {
                Temperature = g.IsGreedy ? 0 : g.Temperature ?? 1.0,
                TopK = g.TopK ?? 0,
                TopP = g.TopP ?? 1.0,
                MinP = g.MinP ?? 0,
                RepetitionPenalty = g.RepetitionPenalty ?? 1.0,
            },
        };
    }

    /// <summary>EOS ids of generation_config.json, config.json and the tokenizer.</summary>
    public IReadOnlyList<int> EosTokenIds =>
        GenerationDefaults.EosTokenIds.Concat(Tokenizer?.EosIds ?? Enumerable.Empty<int>()).Distinct().ToArray();

    /// <summary>A request from text, tokenized with the model's tokenizer (BOS added as the tokenizer does).</summary>
    public Completion Generate(string prompt, GenerationOptions? options = null)
    {
        var tokenizer = Tokenizer ?? throw new EngineException($"model '{Name}' has no tokenizer (tokenizer.json, tokenizer.model or vocab.json + merges.txt): give the prompt as token ids");
        return Generate(tokenizer.Encode(prompt), options);
    }

    /// <summary>
    /// A request from chat messages, rendered through the model's chat template with the generation prompt
    /// added; <paramref name="render"/> passes tools, extra template variables and a fixed clock.
    /// </summary>
    public Completion Chat(IReadOnlyList<ChatMessage> messages, GenerationOptions? options = null, ChatRenderOptions? render = null)
    {
        var template = ChatTemplate ?? throw new EngineException($"model '{Name}' has no chat template");
        var tokenizer = Tokenizer ?? throw new EngineException($"model '{Name}' has no tokenizer");
        render ??= new ChatRenderOptions();
        string prompt = template.Render(messages.Select(m => m.ToJson()).ToList(), render.Tools, addGenerationPrompt: true,
            render.Variables, render.Now ?? DateTime.Now);
        // The template writes BOS and other special tokens itself, so none are added when encoding.
        return Generate(tokenizer.Encode(prompt, addSpecialTokens: false), options);
    }

    /// <summary>A request from token ids; nothing runs until the completion is enumerated. Bad input throws here, before any work.</summary>
    public Completion Generate(IReadOnlyList<int> promptIds, GenerationOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        options ??= DefaultOptions();
        if (options.EosTokenIds is null) options = options with { EosTokenIds = EosTokenIds };
        return new Completion(Model, Cache, promptIds, options, _textStreams?.Invoke(), ContextLimit, LoadMs, Enter);
    }

    private IDisposable Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.Exchange(ref _busy, 1) != 0)
            throw new EngineException("the engine is already running a request; requests run one at a time");
        return new Exit(this);
    }

    private sealed class Exit(InferenceEngine engine) : IDisposable
    {
        public void Dispose() => Interlocked.Exchange(ref engine._busy, 0);
    }

    /// <summary>Frees the KV pool, the activations and the weights (and the backend when the engine created it).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Model.Dispose();
        Cache.Dispose();
        Weights.Dispose();
        if (_ownsBackend) Backend.Dispose();
    }
}
