using System.Collections.Frozen;
using Engine.Core.Checkpoints.Gguf;

namespace Engine.Core.Text;

/// <summary>
/// A Hugging Face tokenizer loaded from <c>tokenizer.json</c> (byte-level BPE as in Qwen2/2.5 and
/// Llama 3, sentencepiece-style BPE with byte fallback as in Llama 2) or, without one, from
/// vocab.json + merges.txt or <c>tokenizer.model</c> (tiktoken or sentencepiece), with BOS/EOS taken from
/// tokenizer_config.json and generation_config.json beside it. <see cref="Encode"/> gives the ids
/// of <c>tokenizer(text)["input_ids"]</c>; <see cref="Decode"/> those of <c>tokenizer.decode</c>
/// (without transformers' clean_up_tokenization_spaces). Thread-safe for encoding and decoding.
/// </summary>
public sealed class TextTokenizer
{
    private static readonly string[] ConventionalEosTokens = ["</s>", "<|endoftext|>", "<|end_of_text|>"];

    private readonly BpeModel _model;
    private readonly AddedTokenSplitter _splitter;
    private readonly TextNormalizer _normalizer;
    private readonly PreTokenizer _preTokenizer;
    private readonly TokenDecoder _decoder;
    private readonly int[] _prefix;
    private readonly int[] _suffix;
    private readonly string?[] _tokens;
    private readonly byte[]?[] _tokenBytes;
    private readonly bool[] _special;
    private readonly Dictionary<string, int> _addedTokenIds;

    private TextTokenizer(TokenizerDefinition definition, TokenizerConfigFile config)
    {
        _model = definition.Model;
        _normalizer = definition.Normalizer;
        _preTokenizer = definition.PreTokenizer;
        _decoder = definition.Decoder;
        _splitter = new AddedTokenSplitter(definition.AddedTokens);

        int size = 0;
        foreach (int id in _model.Vocab.Values) size = Math.Max(size, id + 1);
        foreach (var token in definition.AddedTokens) size = Math.Max(size, token.Id + 1);
        VocabSize = size;
        _tokens = new string?[size];
        _special = new bool[size];
        _addedTokenIds = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (token, id) in _model.Vocab) _tokens[id] = token;
        foreach (var token in definition.AddedTokens)
        {
            _tokens[token.Id] = token.Content;
            _special[token.Id] = token.Special;
            _addedTokenIds[token.Content] = token.Id;
        }
        _tokenBytes = new byte[]?[size]; // filled on first use: most ids are never decoded

        BosId = ResolveBos(config, definition.Template.Prefix);
        BosToken = BosId is int bos ? _tokens[bos] : null;
        int? eosId = config.EosToken is not null ? TokenToId(config.EosToken) : null;
        (_prefix, _suffix) = ApplyConfigOverrides(definition.Template, config, BosId, eosId);
        AddsBos = BosId is int b && _prefix.Length > 0 && _prefix[0] == b;
        EosIds = ResolveEos(config, eosId);
    }

    /// <summary>tokenizer_config.json's bos_token; else the post-processor's leading token; else generation_config's.</summary>
    private int? ResolveBos(TokenizerConfigFile config, int[] templatePrefix)
    {
        if (config.BosToken is not null) return TokenToId(config.BosToken);
        if (templatePrefix.Length > 0) return templatePrefix[0];
        return config.GenerationBosId is int id && id >= 0 && id < VocabSize ? id : null;
    }

    /// <summary>add_bos_token / add_eos_token in tokenizer_config.json win over the post-processor (as in transformers' Llama tokenizer).</summary>
    private static (int[] Prefix, int[] Suffix) ApplyConfigOverrides(SpecialTokenTemplate template, TokenizerConfigFile config, int? bosId, int? eosId)
    {
        int[] prefix = template.Prefix, suffix = template.Suffix;
        if (config.AddBosToken is bool addBos && bosId is int bos)
            prefix = addBos ? (prefix.Length > 0 && prefix[0] == bos ? prefix : [bos, .. prefix]) : prefix.Where(i => i != bos).ToArray();
        if (config.AddEosToken is bool addEos && eosId is int eos)
            suffix = addEos ? (suffix.Length > 0 && suffix[^1] == eos ? suffix : [.. suffix, eos]) : suffix.Where(i => i != eos).ToArray();
        return (prefix, suffix);
    }

    /// <summary>The declared EOS ids; a conventional end token when the config files name none.</summary>
    private FrozenSet<int> ResolveEos(TokenizerConfigFile config, int? eosId)
    {
        var eosIds = new HashSet<int>(config.GenerationEosIds.Where(i => i >= 0 && i < VocabSize));
        if (eosId is int declared) eosIds.Add(declared);
        if (eosIds.Count == 0)
            foreach (string name in ConventionalEosTokens)
                if (TokenToId(name) is int id && _special[id]) eosIds.Add(id);
        return eosIds.ToFrozenSet();
    }

    /// <summary>
    /// Loads the tokenizer of a model folder: tokenizer.json plus tokenizer_config.json and
    /// generation_config.json when present. A folder without tokenizer.json falls back to
    /// vocab.json + merges.txt (GPT-2 / Qwen2 layout), then to tokenizer.model (Llama 3's tiktoken
    /// format or a sentencepiece BPE model). Throws
    /// <see cref="EngineException"/> when there is no usable tokenizer file.
    /// </summary>
    public static TextTokenizer Load(string folder)
    {
        if (GgufModelPath.Find(folder) is string gguf)
        {
            using var file = GgufFile.Open(gguf);
            return FromGguf(file.Metadata);
        }
        if (!Directory.Exists(folder)) throw new EngineException($"tokenizer folder {folder} not found");
        string json = Path.Combine(folder, "tokenizer.json");
        if (File.Exists(json)) return FromFile(json);
        var config = TokenizerConfigFile.Read(folder);
        if (VocabMergesFiles.ExistIn(folder)) return new TextTokenizer(VocabMergesFiles.Read(folder, config), config);
        string model = Path.Combine(folder, "tokenizer.model");
        if (File.Exists(model))
        {
            var definition = TiktokenModelFile.Recognizes(model) ? TiktokenModelFile.Read(model) : SentencePieceModelFile.Read(model);
            return new TextTokenizer(definition, config);
        }
        throw new EngineException($"no tokenizer.json, vocab.json + merges.txt or tokenizer.model in {Path.GetFullPath(folder)}");
    }

    /// <summary>The tokenizer of a GGUF file's tokenizer.ggml.* metadata.</summary>
    public static TextTokenizer FromGguf(GgufMetadata metadata)
    {
        var (definition, config) = GgufVocabulary.Read(metadata);
        return new TextTokenizer(definition, config);
    }

    /// <summary>Whether <see cref="Load"/> has files to read in the folder (a GGUF model always has its vocabulary).</summary>
    public static bool ExistsIn(string folder) =>
        GgufModelPath.Find(folder) is not null || File.Exists(Path.Combine(folder, "tokenizer.json")) || VocabMergesFiles.ExistIn(folder)
        || File.Exists(Path.Combine(folder, "tokenizer.model"));

    /// <summary>Loads a tokenizer.json file; the config files beside it are read too.</summary>
    public static TextTokenizer FromFile(string tokenizerJsonPath)
    {
        var definition = TokenizerDefinition.FromJsonFile(tokenizerJsonPath);
        string folder = Path.GetDirectoryName(Path.GetFullPath(tokenizerJsonPath))!;
        return new TextTokenizer(definition, TokenizerConfigFile.Read(folder));
    }

    /// <summary>Number of token ids (vocabulary plus added tokens): the largest id + 1.</summary>
    public int VocabSize { get; }

    /// <summary>The beginning-of-sequence token id, or null when the tokenizer has none (Qwen2).</summary>
    public int? BosId { get; }

    /// <summary>The text of the BOS token, e.g. "&lt;s&gt;" or "&lt;|begin_of_text|&gt;".</summary>
    public string? BosToken { get; }

    /// <summary>Whether <see cref="Encode"/> with special tokens puts <see cref="BosId"/> first.</summary>
    public bool AddsBos { get; }

    /// <summary>
    /// Ids that end generation: tokenizer_config.json's eos_token and generation_config.json's
    /// eos_token_id; when neither names one, the special token &lt;/s&gt;, &lt;|endoftext|&gt; or
    /// &lt;|end_of_text|&gt; if present.
    /// </summary>
    public IReadOnlySet<int> EosIds { get; }

    /// <summary>Whether the id is a special added token (dropped by decoding with skipSpecialTokens).</summary>
    public bool IsSpecial(int id) => (uint)id < (uint)_special.Length && _special[id];

    /// <summary>The token string of an id as the vocabulary spells it ("Ġthe", "▁the", "&lt;0x0A&gt;").</summary>
    public string IdToToken(int id) =>
        (uint)id < (uint)_tokens.Length && _tokens[id] is string token
            ? token
            : throw new EngineException($"token id {id} is not in the vocabulary (0..{VocabSize - 1})");

    /// <summary>The id of a token string (vocabulary or added token), or null.</summary>
    public int? TokenToId(string token) =>
        _addedTokenIds.TryGetValue(token, out int id) || _model.Vocab.TryGetValue(token, out id) ? id : null;

    /// <summary>
    /// Encodes text. With <paramref name="addSpecialTokens"/> the post-processor's tokens are added
    /// (Llama's BOS); special tokens written in the text ("&lt;|im_start|&gt;") are always one id each.
    /// </summary>
    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecialTokens) ids.AddRange(_prefix);
        foreach (var segment in _splitter.Split(text))
        {
            if (segment.TokenId is int added) { ids.Add(added); continue; }
            string normalized = _normalizer.Normalize(text.Substring(segment.Start, segment.Length));
            foreach (string word in _preTokenizer.Split(normalized, atTextStart: segment.Start == 0))
                _model.EncodeWord(word, ids);
        }
        if (addSpecialTokens) ids.AddRange(_suffix);
        return ids.ToArray();
    }

    /// <summary>Decodes ids to text; ids outside the vocabulary are ignored (as Hugging Face does).</summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var stream = CreateStreamingDetokenizer(skipSpecialTokens);
        var text = new System.Text.StringBuilder();
        foreach (int id in ids) text.Append(stream.Push(id));
        return text.Append(stream.Flush()).ToString();
    }

    /// <summary>A detokenizer for one generated stream; special tokens are skipped unless asked otherwise.</summary>
    public StreamingDetokenizer CreateStreamingDetokenizer(bool skipSpecialTokens = true) =>
        new(this, skipSpecialTokens, _decoder.LeadingSpacesToStrip, _decoder.JoinsWithSpaces);

    /// <summary>The bytes an id decodes to, or null when the id has no token.</summary>
    internal byte[]? TokenBytes(int id)
    {
        if ((uint)id >= (uint)_tokenBytes.Length || _tokens[id] is not string token) return null;
        // A race computes the same bytes twice at worst; reference writes are atomic.
        return _tokenBytes[id] ??= _decoder.BytesOf(token);
    }
}
