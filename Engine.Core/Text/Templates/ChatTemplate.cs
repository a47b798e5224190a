using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Core.Checkpoints.Gguf;

namespace Engine.Core.Text.Templates;

/// <summary>
/// A model's chat template, rendered as Hugging Face's `apply_chat_template(..., tokenize=False)` does:
/// jinja2 with trim_blocks and lstrip_blocks, HF's `tojson`, `raise_exception` and `strftime_now`, and the
/// tokenizer's special tokens (bos_token, eos_token, ...) as variables.
/// </summary>
public sealed class ChatTemplate
{
    public const string TemplateFileName = "chat_template.jinja";
    public const string TokenizerConfigFileName = "tokenizer_config.json";

    private static readonly string[] SpecialTokenNames =
        ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token", "additional_special_tokens"];

    private readonly List<Stmt> _body;

    private ChatTemplate(string source, IReadOnlyDictionary<string, JsonNode?> specialTokens)
    {
        Source = source;
        SpecialTokens = specialTokens;
        _body = Guard(() => TemplateParser.Parse(source));
    }

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>The tokenizer's non-null special tokens, passed to every render (bos_token, eos_token, ...).</summary>
    public IReadOnlyDictionary<string, JsonNode?> SpecialTokens { get; }

    /// <summary>Parses a template; <paramref name="specialTokens"/> become variables (string values or AddedToken objects).</summary>
    public static ChatTemplate Parse(string source, IReadOnlyDictionary<string, JsonNode?>? specialTokens = null)
    {
        var tokens = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        if (specialTokens is not null)
            foreach (var (name, value) in specialTokens)
                if (TokenContent(value) is { } content) tokens[name] = content;
        return new ChatTemplate(source, tokens);
    }

    /// <summary>
    /// The chat template of a model folder: `chat_template.jinja` if present, else `chat_template` of
    /// `tokenizer_config.json` (a string, or a list of {name, template} where "default" is used). Special
    /// tokens come from `tokenizer_config.json`. Null when the folder has no template.
    /// </summary>
    public static ChatTemplate? Load(string folder)
    {
        if (GgufModelPath.Find(folder) is string gguf) return FromGguf(gguf);
        if (!Directory.Exists(folder)) throw new EngineException($"model folder '{folder}' does not exist");
        string configPath = Path.Combine(folder, TokenizerConfigFileName);
        JsonObject? config = File.Exists(configPath) ? ReadConfig(configPath) : null;
        string templatePath = Path.Combine(folder, TemplateFileName);
        string? source = File.Exists(templatePath) ? File.ReadAllText(templatePath) : TemplateFromConfig(config, configPath);
        if (source is null) return null;
        var tokens = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        if (config is not null)
            foreach (string name in SpecialTokenNames)
                if (config.TryGetPropertyValue(name, out var value)) tokens[name] = value;
        return Parse(source, tokens);
    }

    /// <summary>A GGUF file's tokenizer.chat_template, with its BOS/EOS token texts; null when it has none.</summary>
    private static ChatTemplate? FromGguf(string path)
    {
        using var file = GgufFile.Open(path);
        var m = file.Metadata;
        if (m.GetString("tokenizer.chat_template") is not string source) return null;
        string[] vocabulary = m.GetArray<string>("tokenizer.ggml.tokens", "string") ?? [];
        var tokens = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var (name, key) in new[] { ("bos_token", "tokenizer.ggml.bos_token_id"), ("eos_token", "tokenizer.ggml.eos_token_id"),
                     ("pad_token", "tokenizer.ggml.padding_token_id"), ("unk_token", "tokenizer.ggml.unknown_token_id") })
            if (m.GetInteger(key) is long id && id >= 0 && id < vocabulary.Length) tokens[name] = JsonValue.Create(vocabulary[id]);
        return Parse(source, tokens);
    }

    /// <summary>Like <see cref="Load"/>, but a folder without a template is an error.</summary>
    public static ChatTemplate LoadRequired(string folder) =>
        Load(folder) ?? throw new EngineException(
            $"no chat template in '{folder}': expected {TemplateFileName} or a chat_template in {TokenizerConfigFileName}");

    private static JsonObject ReadConfig(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                   ?? throw new EngineException($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new EngineException($"{path} is not valid JSON: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    private static string? TemplateFromConfig(JsonObject? config, string path)
    {
        if (config is null || !config.TryGetPropertyValue("chat_template", out var node) || node is null) return null;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String) return v.GetValue<string>();
        if (node is JsonArray list)
        {
            foreach (var entry in list)
                if (entry is JsonObject named && named["name"]?.GetValueKind() == JsonValueKind.String &&
                    named["name"]!.GetValue<string>() == "default" &&
                    named["template"] is JsonValue t && t.GetValueKind() == JsonValueKind.String)
                    return t.GetValue<string>();
            throw new EngineException($"{path}: chat_template is a list of named templates with no \"default\" entry");
        }
        throw new EngineException($"{path}: chat_template must be a string or a list of {{name, template}} objects");
    }

    // Real tokenizer_config.json files may write a token as an AddedToken object: its "content" is the token.
    private static JsonNode? TokenContent(JsonNode? value) => value switch
    {
        null => null,
        JsonObject added => added["content"]?.DeepClone(),
        JsonArray list => new JsonArray(list.Select(TokenContent).Where(x => x is not null).ToArray()),
        _ => value.DeepClone(),
    };

    /// <summary>
    /// Renders the prompt. <paramref name="variables"/> are extra template variables (HF's **kwargs, e.g.
    /// date_string, tools_in_user_message); they override special tokens of the same name.
    /// <paramref name="now"/> is the clock `strftime_now` reads. Template errors throw <see cref="TemplateError"/>.
    /// </summary>
    public string Render(IReadOnlyList<JsonObject> messages, JsonArray? tools, bool addGenerationPrompt,
        IReadOnlyDictionary<string, JsonNode?>? variables, DateTime now)
    {
        return Guard(() =>
        {
            var globals = new TemplateScope();
            foreach (var (name, function) in TemplateGlobals.Create(now)) globals.Set(name, function);
            var scope = new TemplateScope(globals);
            scope.Set("messages", messages.Select(m => TemplateValues.FromJson(m)).ToList());
            scope.Set("tools", TemplateValues.FromJson(tools));
            scope.Set("documents", null);
            scope.Set("add_generation_prompt", addGenerationPrompt);
            foreach (var (name, value) in SpecialTokens) scope.Set(name, TemplateValues.FromJson(value));
            if (variables is not null)
                foreach (var (name, value) in variables) scope.Set(name, TemplateValues.FromJson(value));
            return new TemplateEvaluator().Render(_body, scope);
        });
    }

    /// <summary>Renders plain messages with the current time and no tools or extra variables.</summary>
    public string Render(IEnumerable<ChatMessage> messages, bool addGenerationPrompt = true) =>
        Render(messages.Select(m => m.ToJson()).ToList(), null, addGenerationPrompt, null, DateTime.Now);

    // Every failure inside the interpreter surfaces as a one-line TemplateError, never a crash.
    private static T Guard<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (TemplateError)
        {
            throw;
        }
        catch (Exception e) when (e is OverflowException or InvalidCastException or ArgumentException or InvalidOperationException
                                       or IndexOutOfRangeException or FormatException or KeyNotFoundException or NullReferenceException)
        {
            throw new TemplateError(e is OverflowException ? "integer overflow" : e.Message);
        }
    }
}
