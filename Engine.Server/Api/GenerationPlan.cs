using Engine.Core;
using Engine.Core.Sampling;
using Engine.Models;
using Engine.Models.Generation;

namespace Engine.Server.Api;

/// <summary>
/// A checked request ready to run: its prompt ids and the options of each of its n choices. Limits are
/// checked here, before the request queues: prompt plus max tokens beyond the context is a 400.
/// </summary>
public sealed class GenerationPlan
{
    private readonly GenerationOptions _base;
    private readonly KvPolicyRequest _policy;
    private readonly int _layers;

    private GenerationPlan(int[] prompt, GenerationOptions options, KvPolicyRequest policy, int layers, GenerationRequest request)
    {
        Prompt = prompt; _base = options; _policy = policy; _layers = layers; Request = request;
    }

    public int[] Prompt { get; }
    public GenerationRequest Request { get; }
    public string PolicyName => _policy.Name;

    public static GenerationPlan Create(InferenceEngine engine, ServerOptions server, GenerationRequest request, int[] prompt, string promptField)
    {
        int context = engine.ContextLimit;
        if (prompt.Length >= context)
            throw ApiException.BadRequest($"the prompt has {prompt.Length} tokens; the model's context is {context}, which leaves no room to generate", promptField, "context_length_exceeded");
        if (request.MaxTokens is { } max && prompt.Length + max > context)
            throw ApiException.BadRequest($"the prompt ({prompt.Length} tokens) plus max_tokens ({max}) exceeds the model's context of {context} tokens", "max_tokens", "context_length_exceeded");
        var defaults = engine.DefaultOptions();
        var options = defaults with
        {
            // Without max_tokens a reply may fill the rest of the context (as OpenAI and vLLM do).
            MaxTokens = request.MaxTokens ?? context - prompt.Length,
            Sampling = request.SamplingWith(defaults.Sampling),
            StopStrings = request.Stop,
            IgnoreEos = request.IgnoreEos,
            Prefill = server.Prefill,
            // The chosen token's own logprob is looked up among the top ones: ask for the most the engine gives.
            Logprobs = request.TopLogprobs is null ? 0 : TopLogprobs.MaxK,
        };
        if (options.StopStrings.Count > 0 && !engine.HasText)
            throw ApiException.BadRequest("stop strings need a tokenizer, and this model has none", "stop");
        var policy = request.KvPolicy ?? new KvPolicyRequest(server.DefaultKvPolicy, server.DefaultLagKv);
        var plan = new GenerationPlan(prompt, options, policy, engine.Config.NumLayers, request);
        using (plan.Options(0).KvPolicy as IDisposable) { } // a bad kv_policy is a 400 now
        return plan;
    }

    /// <summary>The options of choice <paramref name="index"/>: a fresh KV policy each, seeds apart so that n samples differ.</summary>
    public GenerationOptions Options(int index) => _base with
    {
        KvPolicy = Request.IncludeKv && Request.Stream ? new LiveKvObserver(_policy.Create(_layers), _layers) : _policy.Create(_layers),
        Sampling = _base.Sampling with { Seed = _base.Sampling.Seed is { } seed ? unchecked(seed + index) : null },
    };

    /// <summary>A completion with these options; bad input the engine finds is a 400.</summary>
    public Completion Start(InferenceEngine engine, GenerationOptions options)
    {
        try
        {
            return engine.Generate(Prompt, options);
        }
        catch (EngineException e)
        {
            throw ApiException.BadRequest(e.Message);
        }
    }
}
