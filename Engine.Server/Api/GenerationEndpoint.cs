using System.Text.Json.Nodes;
using Engine.Models.Generation;
using Engine.Server.Tools;
using Microsoft.AspNetCore.Http;

namespace Engine.Server.Api;

/// <summary>
/// POST /v1/chat/completions and /v1/completions: reads and checks the request, waits for a turn on the
/// engine, runs its n choices one after another and answers with one JSON object or a stream of chunks.
/// </summary>
public sealed class GenerationEndpoint(EngineGateway gateway, bool chat)
{
    private readonly ResponseShape _shape = new(chat);

    /// <summary>With `stream_options.include_kv`, every this many chunks carries the cache's lengths.</summary>
    private const int LiveKvEvery = 8;

    private static long BytesPerSlot(Models.InferenceEngine engine) => engine.Cache.BytesPerPage / engine.Cache.PageSize;

    public async Task HandleAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        SseWriter? sse = null;
        try
        {
            var body = await JsonResponses.ReadObjectAsync(context);
            var request = GenerationRequest.Parse(body, chat);
            var engine = gateway.Engine;
            ModelsEndpoint.Check(gateway, request.Model);
            ToolCallFormat? toolFormat = null;
            int[] prompt;
            if (chat)
            {
                var built = ChatPrompt.Build(body, gateway);
                prompt = built.Ids;
                toolFormat = built.ToolFormat;
            }
            else prompt = CompletionPrompt.Build(body, gateway);
            var plan = GenerationPlan.Create(engine, gateway.Options, request, prompt, chat ? "messages" : "prompt");
            var firstOptions = plan.Options(0);
            var first = plan.Start(engine, firstOptions); // bad input is a 400 before the request queues

            EngineGateway.EngineLease lease;
            try
            {
                lease = await gateway.AcquireAsync(aborted);
            }
            catch
            {
                (firstOptions.KvPolicy as IDisposable)?.Dispose(); // the first choice never ran
                throw;
            }
            using var turn = lease;
            var meta = new ResponseMeta(_shape.NewId(), DateTimeOffset.UtcNow.ToUnixTimeSeconds(), gateway.Options.ModelId);
            var results = new List<ChoiceResult>();
            if (request.Stream)
            {
                sse = new SseWriter(context);
                await sse.StartAsync();
            }
            for (int i = 0; i < request.N; i++)
            {
                var options = i == 0 ? firstOptions : plan.Options(i);
                var completion = i == 0 ? first : plan.Start(engine, options);
                Func<IReadOnlyList<GeneratedToken>, string, IReadOnlyList<LayerKvLength>?, Task>? onDelta = null;
                int index = i;
                var logprobs = new TokenStrings(engine);
                if (sse is not null)
                {
                    if (chat) await sse.WriteAsync(_shape.Chunk(meta, index, new JsonObject { ["role"] = "assistant", ["content"] = "" }, null, null));
                    int textOffset = 0; // legacy logprobs count offsets into the whole reply
                    int sinceKv = LiveKvEvery; // the first chunk shows the cache after the prompt
                    onDelta = (tokens, text, kv) =>
                    {
                        var chunkLogprobs = request.TopLogprobs is { } k && tokens.Count > 0 ? _shape.Logprobs(logprobs, tokens, k, textOffset) : null;
                        textOffset += text.Length;
                        var chunk = _shape.Chunk(meta, index, _shape.Delta(text), null, chunkLogprobs);
                        if (kv is not null && ++sinceKv >= LiveKvEvery)
                        {
                            sinceKv = 0;
                            chunk["kv"] = KvReport.Of(kv, plan.PolicyName, BytesPerSlot(engine), null, engine.Cache.PageSize).ToJson();
                        }
                        return sse.WriteAsync(chunk);
                    };
                }
                var result = await RunChoiceAsync(lease, completion, options, plan, index, toolFormat, onDelta, aborted);
                if (aborted.IsCancellationRequested) return;
                results.Add(result with { Logprobs = request.TopLogprobs is { } top && sse is null ? _shape.Logprobs(logprobs, result.Tokens, top, 0) : null });
                if (sse is not null)
                {
                    if (result.ToolCalls.Count > 0)
                        await sse.WriteAsync(_shape.Chunk(meta, index, new JsonObject { ["tool_calls"] = new JsonArray(result.ToolCalls.Select((c, k) => (JsonNode)c.ToJson(k)).ToArray()) }, null, null));
                    var last = _shape.Chunk(meta, index, chat ? new JsonObject() : _shape.Delta(""), result.FinishReason, null);
                    last["kv"] = result.Kv.ToJson();
                    await sse.WriteAsync(last);
                }
            }
            if (sse is not null)
            {
                if (request.IncludeUsage) await sse.WriteAsync(_shape.UsageChunk(meta, results));
                await sse.DoneAsync();
            }
            else await JsonResponses.WriteAsync(context, _shape.Response(meta, results));
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away: the completion was cancelled and its pages freed; nobody to answer.
        }
        catch (ApiException e) when (!context.Response.HasStarted)
        {
            await ApiErrors.WriteAsync(context, e);
        }
        catch (Exception e) when (!aborted.IsCancellationRequested)
        {
            var fault = new ApiException(500, $"the engine failed on this request: {e.Message.ReplaceLineEndings(" ")}", code: "engine_error");
            if (!context.Response.HasStarted) await ApiErrors.WriteAsync(context, fault);
            else if (sse is not null)
            {
                await sse.WriteAsync(ApiErrors.Body(fault));
                await sse.DoneAsync();
            }
        }
    }

    private async Task<ChoiceResult> RunChoiceAsync(EngineGateway.EngineLease lease, Completion completion, GenerationOptions options,
        GenerationPlan plan, int index, ToolCallFormat? toolFormat, Func<IReadOnlyList<GeneratedToken>, string, IReadOnlyList<LayerKvLength>?, Task>? onDelta, CancellationToken cancellation)
    {
        using var policy = options.KvPolicy as IDisposable;
        var tools = toolFormat is { } f ? new ToolCallStream(f) : null;
        var tokens = new List<GeneratedToken>();
        var text = new System.Text.StringBuilder();
        var pending = new List<GeneratedToken>(); // tokens whose logprobs go out with the next delta
        bool textual = lease.Engine.HasText;
        await foreach (var token in lease.Stream(completion, cancellation))
        {
            tokens.Add(token);
            pending.Add(token);
            string delta = tools is null ? token.Text : tools.Push(token.Text);
            text.Append(delta);
            bool withLogprobs = plan.Request.TopLogprobs is not null;
            // A model without a tokenizer has no text: each token still goes out as an (empty) chunk, so clients see progress.
            if (onDelta is not null && (delta.Length > 0 || withLogprobs || !textual))
            {
                await onDelta(withLogprobs ? WithoutEos(pending, options) : [], delta, token.Kv);
                pending.Clear();
            }
        }
        if (completion.FinishReason is FinishReason.Error)
            throw new InvalidOperationException("generation failed (e.g. non-finite logits)");
        var toolResult = tools?.Finish();
        if (toolResult is not null)
        {
            if (toolResult.Content.Length > 0 && onDelta is not null) await onDelta([], toolResult.Content, null);
            text.Append(toolResult.Content);
        }
        var engine = lease.Engine;
        var kv = KvReport.From(completion.Stats, plan.PolicyName, BytesPerSlot(engine));
        gateway.Metrics.ObserveKv(kv);
        var calls = toolResult?.Calls ?? [];
        return new ChoiceResult(index, text.ToString(), calls, WithoutEos(tokens, options),
            ChoiceResult.OpenAiReason(completion.FinishReason ?? FinishReason.Cancelled, calls.Count > 0),
            completion.Stats.PromptTokens, completion.Stats.GeneratedTokens, kv);
    }

    // The EOS token that ended a reply is no text: it is left out of logprobs, as OpenAI does.
    private static IReadOnlyList<GeneratedToken> WithoutEos(List<GeneratedToken> tokens, GenerationOptions options) =>
        options.IgnoreEos || options.EosTokenIds is not { } eos ? tokens.ToArray() : tokens.Where(t => !eos.Contains(t.Id)).ToArray();
}
