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
using Engine.Models.Scheduling;
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
/// Any number of requests may run at once, from any thread: they share forward steps through the
/// scheduler (continuous batching), each with its own sampling and KV policy. Dispose cancels what is
/// still running and returns all device memory.
/// </summary>
public sealed class InferenceEngine : IDisposable
{
    private readonly bool _ownsBackend;
    private readonly Func<ITokenTextStream>? _textStreams;
    private readonly EngineLoop _loop;
    private bool _disposed;

    private InferenceEngine(string name, IBackend backend, bool ownsBackend, ModelConfig config, GenerationDefaults defaults,
        ModelWeights weights, PagedKvCache cache, int contextLimit, double loadMs, TextTokenizer? tokenizer,
        ChatTemplate? chatTemplate, Func<ITokenTextStream>? textStreams, EngineOptions options)
    {
        Name = name; Backend = backend; _ownsBackend = ownsBackend; Config = config; GenerationDefaults = defaults;
        Weights = weights; Cache = cache; ContextLimit = contextLimit; LoadMs = loadMs;
        Tokenizer = tokenizer; ChatTemplate = chatTemplate;
        _textStreams = textStreams ?? (tokenizer is null ? null : () => new DetokenizerTextStream(tokenizer.CreateStreamingDetokenizer()));
        Model = new LlamaModel(backend, config, weights);
        _loop = new EngineLoop(Model, cache, options.MaxBatchTokens, options.MaxSequences);
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
    /// <summary>What --quantize made of the matrices (types and llama.cpp-style fallbacks), or null without it.</summary>
    public string? QuantizationSummary { get; private init; }
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
        using var opened = Checkpoint.Open(folder);
        WeightSpec.Check(config, opened); // before the device is touched
        using var quantized = options.Quantize is DType type ? new QuantizedCheckpoint(opened, type) : null;
        ICheckpoint checkpoint = (ICheckpoint?)quantized ?? opened;
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
            int pages = PagedKvCache.PagesFor(backend, config, options.PageSize, kvDType, options.KvMemoryBytes, contextLimit, options.PoolContexts);
            var cache = new PagedKvCache(backend, config, pages, options.PageSize, kvDType);
            backend.Synchronize();
            return new InferenceEngine(name, backend, ownsBackend, config, defaults ?? GenerationDefaults.From(config),
                weights, cache, contextLimit, clock.Elapsed.TotalMilliseconds, tokenizer, chatTemplate, textStreams, options)
            {
                QuantizationSummary = (checkpoint as QuantizedCheckpoint)?.Summary,
            };
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>Full-context sequences a default-sized KV pool holds at most (more fit when they are shorter); <see cref="EngineOptions.PoolContexts"/> changes it.</summary>
    public const int DefaultPoolContexts = 4;

    /// <summary>Requests running (admitted, holding KV pages) and waiting for admission.</summary>
    public (int Running, int Waiting) Requests => _loop.Requests;

    /// <summary>Forward steps the engine has run, their rows, and the most sequences one step batched.</summary>
    public StepCounters Steps => _loop.Counters;

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
    public Completion Chat(IReadOnlyList<ChatMessage> messages, GenerationOptions? options = null, ChatRenderOptions? render = null) =>
        Generate(RenderChat(messages, render), options);

    /// <summary>The token ids of <paramref name="messages"/> rendered through the chat template with the generation prompt added.</summary>
    public IReadOnlyList<int> RenderChat(IReadOnlyList<ChatMessage> messages, ChatRenderOptions? render = null)
    {
        var template = ChatTemplate ?? throw new EngineException($"model '{Name}' has no chat template");
        var tokenizer = Tokenizer ?? throw new EngineException($"model '{Name}' has no tokenizer");
        render ??= new ChatRenderOptions();
        string prompt = template.Render(messages.Select(m => m.ToJson()).ToList(), render.Tools, addGenerationPrompt: true,
            render.Variables, render.Now ?? DateTime.Now);
        // The template writes BOS and other special tokens itself, so none are added when encoding.
        return tokenizer.Encode(prompt, addSpecialTokens: false);
    }

    /// <summary>A request from token ids; nothing runs until the completion is enumerated. Bad input throws here, before any work.</summary>
    public Completion Generate(IReadOnlyList<int> promptIds, GenerationOptions? options = null) => Submit(promptIds, options, null, null);

    /// <summary>A conversation whose KV cache lives across turns: each turn prefills only its new tokens.</summary>
    public ChatSession StartSession() => new(this);

    /// <summary>
    /// A request on <paramref name="continued"/>'s cache (a session's next turn) or a fresh sequence;
    /// <paramref name="onEnd"/> sees the request's final state (on the engine loop's thread).
    /// </summary>
    internal Completion Submit(IReadOnlyList<int> promptIds, GenerationOptions? options, KvSequence? continued, Action<SequenceRun>? onEnd,
        bool keepSequence = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        options ??= DefaultOptions();
        if (options.EosTokenIds is null) options = options with { EosTokenIds = EosTokenIds };
        options.Validate();
        if (promptIds.Count == 0) throw new EngineException("the prompt is empty: give at least one token");
        foreach (int id in promptIds)
            if ((uint)id >= (uint)Config.VocabSize) throw new EngineException($"prompt token id {id} is outside the vocabulary (0..{Config.VocabSize - 1})");
        int held = continued?.LogicalLength ?? 0;
        if (held + promptIds.Count > ContextLimit)
            throw new EngineException(held == 0
                ? $"the prompt has {promptIds.Count} tokens, more than the model's context of {ContextLimit}"
                : $"the conversation would hold {held + promptIds.Count} tokens, more than the model's context of {ContextLimit}");
        if (options.StopStrings.Count > 0 && _textStreams is null)
            throw new EngineException("stop strings need a tokenizer to decode text, and this model has none");
        if (options.KvPolicy is not null && continued is not null && !ReferenceEquals(options.KvPolicy, continued.Policy))
            throw new EngineException("a session keeps the KV policy of its first turn");
        var stats = new GenerationStats { PromptTokens = promptIds.Count, LoadMs = LoadMs, PageSize = Cache.PageSize };
        var run = new SequenceRun(promptIds.ToArray(), options, _textStreams?.Invoke(), ContextLimit, stats,
            new HashSet<int>(options.EosTokenIds ?? Config.EosTokenIds), continued, keepSequence);
        return new Completion(_loop, run, onEnd);
    }

    /// <summary>Frees the KV pool, the activations and the weights (and the backend when the engine created it).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _loop.Dispose();
        Model.Dispose();
        Cache.Dispose();
        Weights.Dispose();
        if (_ownsBackend) Backend.Dispose();
    }
}
