using Engine.Core.Text;
using NUnit.Framework;

namespace Engine.Tests.Text.Tokenization;

/// <summary>BOS/EOS as each family's files declare them, and special tokens written in the text.</summary>
[TestFixture]
public class SpecialTokenTests
{
    [Test]
    public void Llama3AddsBeginOfText()
    {
        TextTokenizer tokenizer = TokenizerAssets.Llama3;
        Assert.That(tokenizer.BosId, Is.EqualTo(128000));
        Assert.That(tokenizer.BosToken, Is.EqualTo("<|begin_of_text|>"));
        Assert.That(tokenizer.AddsBos, Is.True);
        int[] plain = tokenizer.Encode("Hello world", addSpecialTokens: false);
        Assert.That(tokenizer.Encode("Hello world"), Is.EqualTo(new[] { 128000 }.Concat(plain)));
        Assert.That(tokenizer.EosIds, Does.Contain(128001));
    }

    [Test]
    public void Qwen2AddsNoBos()
    {
        TextTokenizer tokenizer = TokenizerAssets.Qwen2;
        Assert.That(tokenizer.BosId, Is.Null);
        Assert.That(tokenizer.AddsBos, Is.False);
        Assert.That(tokenizer.Encode("Hello world"), Is.EqualTo(tokenizer.Encode("Hello world", addSpecialTokens: false)));
        Assert.That(tokenizer.VocabSize, Is.EqualTo(151665));
    }

    [Test]
    public void Qwen2VocabAndMergesFolderTakesSpecialTokensFromTokenizerConfig()
    {
        TextTokenizer tokenizer = TokenizerAssets.Get("tokenizers", "qwen2");
        Assert.That(tokenizer.Encode("<|im_start|>hi<|im_end|>"), Is.EqualTo(TokenizerAssets.Qwen2.Encode("<|im_start|>hi<|im_end|>")));
        Assert.That(tokenizer.IsSpecial(151644), Is.True);
        Assert.That(tokenizer.EosIds, Is.EquivalentTo(new[] { 151643 }));
        Assert.That(tokenizer.BosId, Is.Null);
    }

    [Test]
    public void Llama2AndStoriesAddSentencepieceBos()
    {
        foreach (var tokenizer in new[] { TokenizerAssets.Llama2, TokenizerAssets.Stories })
        {
            Assert.That(tokenizer.BosId, Is.EqualTo(1));
            Assert.That(tokenizer.BosToken, Is.EqualTo("<s>"));
            Assert.That(tokenizer.AddsBos, Is.True);
            Assert.That(tokenizer.Encode("Once upon a time")[0], Is.EqualTo(1));
            Assert.That(tokenizer.EosIds, Is.EquivalentTo(new[] { 2 }));
        }
    }

    [Test]
    public void SpecialTokensInTextAreOneId()
    {
        var qwen = TokenizerAssets.Qwen2;
        int[] ids = qwen.Encode("<|im_start|>user\nHi<|im_end|>", addSpecialTokens: false);
        Assert.That(ids[0], Is.EqualTo(151644));
        Assert.That(ids[^1], Is.EqualTo(151645));
        Assert.That(ids.Count(i => qwen.IsSpecial(i)), Is.EqualTo(2));

        var llama3 = TokenizerAssets.Llama3;
        int[] chat = llama3.Encode("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", addSpecialTokens: false);
        Assert.That(chat.Where(llama3.IsSpecial), Is.EqualTo(new[] { 128006, 128007, 128009 }));

        var llama2 = TokenizerAssets.Llama2;
        Assert.That(llama2.Encode("<s>Hi</s>", addSpecialTokens: false), Has.Member(1).And.Member(2));
        Assert.That(llama2.Encode("<s>Hi</s>", addSpecialTokens: false)[0], Is.EqualTo(1));
    }

    [Test]
    public void IdToTokenSpellsVocabularyAndRejectsUnknownIds()
    {
        var qwen = TokenizerAssets.Qwen2;
        Assert.That(qwen.IdToToken(qwen.Encode(" the", addSpecialTokens: false).Single()), Is.EqualTo("Ġthe"));
        Assert.That(qwen.TokenToId("<|im_end|>"), Is.EqualTo(151645));
        var error = Assert.Throws<Engine.Core.EngineException>(() => qwen.IdToToken(qwen.VocabSize))!;
        Assert.That(error.Message, Does.Not.Contain("\n"));
    }
}
