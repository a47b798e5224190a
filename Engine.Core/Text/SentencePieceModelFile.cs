using System.Text;
using System.Text.Json;

namespace Engine.Core.Text;

/// <summary>
/// Reads a sentencepiece BPE <c>tokenizer.model</c> (the protobuf ModelProto of Llama 2 and its kin)
/// into the same tokenizer its Hugging Face tokenizer.json would describe: pieces become the
/// vocabulary; a pair merges when it forms a normal piece, ranked by that piece's score (equal scores
/// share a rank, so the leftmost pair goes first as in sentencepiece); control pieces (&lt;s&gt;,
/// &lt;/s&gt;) and &lt;unk&gt; are special tokens, user-defined pieces are matched whole; "▁" stands
/// for spaces, with the dummy prefix, byte fallback and BOS as the model's specs say.
/// </summary>
internal static class SentencePieceModelFile
{
    private const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4;
    private const int UnigramModel = 1, BpeModelType = 2;

    /// <summary>A vocabulary entry: its text, score (higher merges first) and sentencepiece type (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).</summary>
    internal sealed record Piece(string Text, float Score, int Type);

    public static TokenizerDefinition Read(string path)
    {
        List<Piece> pieces;
        int modelType = UnigramModel, bosId = 1;
        bool byteFallback = false, addDummyPrefix = true, removeExtraWhitespaces = true;
        string normalizerName = "nmt_nfkc";
        try
        {
            (pieces, modelType, bosId, byteFallback, normalizerName, addDummyPrefix, removeExtraWhitespaces) = Parse(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is InvalidDataException or OverflowException)
        {
            throw new EngineException($"{path}: not a sentencepiece model ({e.Message})");
        }
        if (pieces.Count == 0) throw new EngineException($"{path}: not a sentencepiece model (no pieces)");
        if (modelType != BpeModelType)
            throw new EngineException($"{path}: sentencepiece model type {(modelType == UnigramModel ? "Unigram" : modelType.ToString())} is not supported (only BPE)");
        return FromPieces(pieces, bosId, byteFallback, normalizerName, addDummyPrefix, removeExtraWhitespaces);
    }

    /// <summary>The tokenizer of a sentencepiece BPE vocabulary (from tokenizer.model, or a GGUF file's tokenizer.ggml.* arrays).</summary>
    internal static TokenizerDefinition FromPieces(IReadOnlyList<Piece> pieces, int bosId, bool byteFallback, string normalizerName,
        bool addDummyPrefix, bool removeExtraWhitespaces)
    {

        var vocab = new Dictionary<string, int>(pieces.Count, StringComparer.Ordinal);
        for (int id = 0; id < pieces.Count; id++) vocab.TryAdd(pieces[id].Text, id);

        // Rank of a merge = dense rank of the formed piece's score, best first.
        var rankOfScore = pieces.Where(p => p.Type == Normal).Select(p => p.Score).Distinct()
            .OrderByDescending(s => s).Select((score, rank) => (score, rank)).ToDictionary(x => x.score, x => x.rank);
        var merges = new Dictionary<long, (int Rank, int Merged)>();
        var lookup = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        for (int id = 0; id < pieces.Count; id++)
        {
            var piece = pieces[id];
            if (piece.Type != Normal) continue;
            for (int split = 1; split < piece.Text.Length; split++)
            {
                if (char.IsLowSurrogate(piece.Text[split])) continue;
                if (lookup.TryGetValue(piece.Text.AsSpan(0, split), out int left) && pieces[left].Type == Normal
                    && lookup.TryGetValue(piece.Text.AsSpan(split), out int right) && pieces[right].Type == Normal)
                    merges.TryAdd(BpeModel.PairKey(left, right), (rankOfScore[piece.Score], id));
            }
        }

        int? unknownId = null;
        var added = new List<AddedToken>();
        for (int id = 0; id < pieces.Count; id++)
        {
            int type = pieces[id].Type;
            if (type == Unknown) unknownId ??= id;
            if (type is Unknown or Control or UserDefined)
                added.Add(new AddedToken(id, pieces[id].Text, Special: type != UserDefined, LStrip: false, RStrip: false));
        }

        var model = new BpeModel(vocab, merges, unknownId, fuseUnknown: true, byteFallback, ignoreMerges: false);
        return new TokenizerDefinition(
            model,
            added.ToArray(),
            Normalizer(normalizerName, addDummyPrefix, removeExtraWhitespaces),
            PreTokenizer.FromJson(Json("null")),
            bosId >= 0 && bosId < pieces.Count ? new SpecialTokenTemplate([bosId], []) : SpecialTokenTemplate.None,
            TokenDecoder.FromJson(Json($$"""
                {"type": "Sequence", "decoders": [
                  {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                  {"type": "ByteFallback"}, {"type": "Fuse"},
                  {"type": "Strip", "content": " ", "start": {{(addDummyPrefix ? 1 : 0)}}, "stop": 0}]}
                """)));
    }

    private static TextNormalizer Normalizer(string name, bool addDummyPrefix, bool removeExtraWhitespaces)
    {
        var steps = new List<string>();
        if (name != "identity") steps.Add("""{"type": "NFKC"}""");
        if (removeExtraWhitespaces)
        {
            steps.Add("""{"type": "Strip", "strip_left": true, "strip_right": true}""");
            steps.Add("""{"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}""");
        }
        if (addDummyPrefix) steps.Add("""{"type": "Prepend", "prepend": "▁"}""");
        steps.Add("""{"type": "Replace", "pattern": {"String": " "}, "content": "▁"}""");
        return TextNormalizer.FromJson(Json($$"""{"type": "Sequence", "normalizers": [{{string.Join(", ", steps)}}]}"""));
    }

    private static (List<Piece>, int ModelType, int BosId, bool ByteFallback, string NormalizerName, bool AddDummyPrefix, bool RemoveExtraWhitespaces)
        Parse(ReadOnlySpan<byte> data)
    {
        var pieces = new List<Piece>();
        int modelType = UnigramModel, bosId = 1;
        bool byteFallback = false, addDummyPrefix = true, removeExtraWhitespaces = true;
        string normalizerName = "nmt_nfkc";
        var reader = new ProtobufReader(data);
        while (!reader.AtEnd)
        {
            var (field, wire) = reader.ReadTag();
            if (field == 1 && wire == 2) pieces.Add(ParsePiece(reader.ReadLengthDelimited()));
            else if (field == 2 && wire == 2)
            {
                var trainer = new ProtobufReader(reader.ReadLengthDelimited());
                while (!trainer.AtEnd)
                {
                    var (f, w) = trainer.ReadTag();
                    if (f == 3 && w == 0) modelType = (int)trainer.ReadVarint();
                    else if (f == 35 && w == 0) byteFallback = trainer.ReadVarint() != 0;
                    else if (f == 41 && w == 0) bosId = (int)(long)trainer.ReadVarint();
                    else trainer.Skip(w);
                }
            }
            else if (field == 3 && wire == 2)
            {
                var normalizer = new ProtobufReader(reader.ReadLengthDelimited());
                while (!normalizer.AtEnd)
                {
                    var (f, w) = normalizer.ReadTag();
                    if (f == 1 && w == 2) normalizerName = Encoding.UTF8.GetString(normalizer.ReadLengthDelimited());
                    else if (f == 3 && w == 0) addDummyPrefix = normalizer.ReadVarint() != 0;
                    else if (f == 4 && w == 0) removeExtraWhitespaces = normalizer.ReadVarint() != 0;
                    else normalizer.Skip(w);
                }
            }
            else reader.Skip(wire);
        }
        return (pieces, modelType, bosId, byteFallback, normalizerName, addDummyPrefix, removeExtraWhitespaces);
    }

    private static Piece ParsePiece(ReadOnlySpan<byte> data)
    {
        var reader = new ProtobufReader(data);
        string text = "";
        float score = 0;
        int type = Normal;
        while (!reader.AtEnd)
        {
            var (field, wire) = reader.ReadTag();
            if (field == 1 && wire == 2) text = Encoding.UTF8.GetString(reader.ReadLengthDelimited());
            else if (field == 2 && wire == 5) score = reader.ReadFloat();
            else if (field == 3 && wire == 0) type = (int)reader.ReadVarint();
            else reader.Skip(wire);
        }
        return new Piece(text, score, type);
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;
}
