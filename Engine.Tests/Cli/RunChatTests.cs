using System.Text.RegularExpressions;
using Engine.Cli.Commands;
using Engine.Core;
using Engine.Core.Sampling;
using Engine.Core.Text.Templates;
using Engine.Models;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Cli;

/// <summary>
/// `engine run --chat` on a session: each turn prefills only its new tokens; Ctrl-C stops a reply and
/// returns to the prompt, or at the prompt ends the chat with 130; end of input ends it with 0.
/// </summary>
public class RunChatTests
{
    private static readonly Regex TurnSummary = new(@"^\[turn (\d+): prefilled (\d+) new tokens, (\d+) cached; (\d+) generated, finish (\w+)", RegexOptions.Multiline);

    [Test]
    public void EachTurnPrefillsOnlyItsNewTokens()
    {
        using var model = StoriesChatModel.Create();
        var stdin = Console.In;
        Console.SetIn(new StringReader("Tell me a story\nAnother one\nAnd one more\n"));
        try
        {
            var (code, output, error) = Run("run", "--model", model.Path, "--device", "cpu", "--chat", "--system", "Be kind", "--max-tokens", "8", "--temperature", "0");
            Assert.That(code, Is.EqualTo(0), error);
            Assert.That(output, Does.Not.Contain(RunChat.PromptMarker), "no prompt marker when stdin is redirected");
            var turns = TurnSummary.Matches(error).ToArray();
            Assert.That(turns, Has.Length.EqualTo(3), error);
            int Field(int turn, int group) => int.Parse(turns[turn].Groups[group].Value);
            Assert.That(Field(0, 3), Is.Zero, "the first turn prefills everything");
            for (int t = 1; t < 3; t++)
            {
                Assert.That(Field(t, 3), Is.GreaterThan(Field(t - 1, 2) + Field(t - 1, 3)), $"turn {t + 1} reuses the previous turns' cache");
                Assert.That(Field(t, 2), Is.LessThan(Field(t, 3)), $"turn {t + 1} prefills fewer tokens than it reuses");
            }
        }
        finally { Console.SetIn(stdin); }
    }

    /// <summary>Input lines one by one; <see cref="OnRead"/> runs before each read (the line number from 1).</summary>
    private sealed class ScriptedInput(params string?[] lines) : TextReader
    {
        private int _next;
        public Action<int>? OnRead { get; init; }
        public override string? ReadLine()
        {
            OnRead?.Invoke(_next + 1);
            return _next < lines.Length ? lines[_next++] : null;
        }
    }

    /// <summary>Calls <paramref name="onWrite"/> at every written text (the stream of a reply).</summary>
    private sealed class WatchedOutput(Action<int> onWrite) : StringWriter
    {
        private int _writes;
        public override void Write(string? value)
        {
            base.Write(value);
            if (!string.IsNullOrEmpty(value)) onWrite(++_writes);
        }
    }

    private static InferenceEngine LoadEngine(TempFolder model) =>
        InferenceEngine.Load(model.Path, new EngineOptions { Device = "cpu", KvDType = DType.F32, Threads = 1 });

    private static Engine.Models.Generation.GenerationOptions Greedy(InferenceEngine engine, int maxTokens) =>
        engine.DefaultOptions() with { MaxTokens = maxTokens, IgnoreEos = true, Sampling = SamplingOptions.Greedy };

    [Test]
    public void CtrlCDuringAReplyStopsItAndTheChatGoesOn()
    {
        using var model = StoriesChatModel.Create();
        using var engine = LoadEngine(model);
        RunChat? chat = null;
        var stdout = new WatchedOutput(writes => { if (writes == 4) chat!.Interrupt(); }); // the marker, then three pieces of reply 1
        var stderr = new StringWriter();
        chat = new RunChat(engine, Greedy(engine, 40), new ChatRenderOptions(), null, new ScriptedInput("Tell me a story", "Another one"), stdout, stderr, showPrompt: true);
        Assert.That(chat.Run(), Is.EqualTo(0), "end of input after the second turn");
        var turns = TurnSummary.Matches(stderr.ToString()).ToArray();
        Assert.That(turns, Has.Length.EqualTo(2), stderr.ToString());
        Assert.That(turns[0].Groups[5].Value, Is.EqualTo("cancelled"));
        Assert.That(int.Parse(turns[0].Groups[4].Value), Is.LessThan(40));
        Assert.That(turns[1].Groups[5].Value, Is.EqualTo("length"));
        Assert.That(int.Parse(turns[1].Groups[3].Value), Is.GreaterThan(0), "the stopped reply's tokens stayed in the session");
        Assert.That(stdout.ToString(), Does.StartWith(RunChat.PromptMarker));
        Assert.That(Regex.Matches(stdout.ToString(), Regex.Escape(RunChat.PromptMarker)).Count, Is.GreaterThanOrEqualTo(3));
        Assert.That(engine.Cache.UsedPages, Is.Zero, "the session's pages came back");
    }

    [Test]
    public void CtrlCAtThePromptEndsTheChatWith130()
    {
        using var model = StoriesChatModel.Create();
        using var engine = LoadEngine(model);
        RunChat? chat = null;
        using var never = new ManualResetEventSlim();
        var input = new ScriptedInput("Tell me a story", "not read")
        {
            // At the second prompt: Ctrl-C while the read waits (a terminal would block until a line is typed).
            OnRead = n => { if (n == 2) { chat!.Interrupt(); never.Wait(TimeSpan.FromSeconds(5)); } },
        };
        var stderr = new StringWriter();
        chat = new RunChat(engine, Greedy(engine, 6), new ChatRenderOptions(), null, input, new StringWriter(), stderr, showPrompt: false);
        Assert.That(chat.Run(), Is.EqualTo(130));
        Assert.That(TurnSummary.Matches(stderr.ToString()), Has.Count.EqualTo(1));
        Assert.That(engine.Cache.UsedPages, Is.Zero);
    }
}
