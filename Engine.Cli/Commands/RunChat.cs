using System.Globalization;
using Engine.Core;
using Engine.Core.Text.Templates;
using Engine.Models;
using Engine.Models.Generation;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine run --chat`: one user message per input line, each reply streamed, the conversation kept in
/// a <see cref="ChatSession"/> so that a turn prefills only its new tokens (its summary says how many
/// came from the cache). Ctrl-C (<see cref="Interrupt"/>) during a reply stops that reply and returns to
/// the prompt; at the prompt it ends the chat (exit 130). End of input (Ctrl-D) or an empty line ends it
/// with exit 0. The prompt marker is shown when the input is a terminal.
/// </summary>
internal sealed class RunChat(InferenceEngine engine, GenerationOptions options, ChatRenderOptions render, string? system,
    TextReader input, TextWriter stdout, TextWriter stderr, bool showPrompt)
{
    public const string PromptMarker = "> ";

    private readonly object _gate = new();
    private readonly CancellationTokenSource _quit = new();
    private CancellationTokenSource? _reply;

    /// <summary>Runs on the console: Ctrl-C interrupts, the marker shows unless stdin is redirected.</summary>
    public static int OnConsole(InferenceEngine engine, GenerationOptions options, ChatRenderOptions render, string? system, TextWriter stdout, TextWriter stderr)
    {
        var chat = new RunChat(engine, options, render, system, Console.In, stdout, stderr, showPrompt: !Console.IsInputRedirected);
        ConsoleCancelEventHandler onInterrupt = (_, e) => { e.Cancel = true; chat.Interrupt(); };
        Console.CancelKeyPress += onInterrupt;
        try
        {
            return chat.Run();
        }
        finally
        {
            Console.CancelKeyPress -= onInterrupt;
        }
    }

    /// <summary>Ctrl-C: stops the reply being generated, or at the prompt ends the chat.</summary>
    public void Interrupt()
    {
        lock (_gate)
        {
            if (_reply is { } reply) reply.Cancel();
            else _quit.Cancel();
        }
    }

    public int Run()
    {
        if (engine.ChatTemplate is null) throw new EngineException($"model '{engine.Name}' has no chat template; use --prompt");
        using var session = engine.StartSession();
        var messages = new List<ChatMessage>();
        if (system is not null) messages.Add(new ChatMessage("system", system));
        for (int turn = 1; ; turn++)
        {
            if (showPrompt)
            {
                stdout.Write(PromptMarker);
                stdout.Flush();
            }
            string? line = ReadLine();
            if (_quit.IsCancellationRequested)
            {
                stdout.WriteLine();
                return 130;
            }
            if (string.IsNullOrEmpty(line))
            {
                if (showPrompt && line is null) stdout.WriteLine();
                return 0;
            }
            messages.Add(new ChatMessage("user", line));
            var conversation = engine.RenderChat(messages, render);
            var completion = session.Continue(conversation, options);
            Reply(completion);
            stderr.WriteLine(Summary(turn, completion, cached: conversation.Count - completion.PromptIds.Count));
            // Also a stopped reply: the session's cache holds its tokens, so the conversation does too.
            messages.Add(new ChatMessage("assistant", completion.Text));
        }
    }

    /// <summary>Streams the reply; Ctrl-C meanwhile cancels only it.</summary>
    private void Reply(Completion completion)
    {
        using var reply = new CancellationTokenSource();
        lock (_gate) _reply = reply;
        try
        {
            foreach (var token in completion.Run(reply.Token))
            {
                stdout.Write(token.Text);
                stdout.Flush();
            }
        }
        finally
        {
            lock (_gate) _reply = null;
        }
        stdout.WriteLine();
    }

    /// <summary>The next line, or null at the end of input or when Ctrl-C ends the chat while it waits.</summary>
    private string? ReadLine()
    {
        var read = Task.Run(input.ReadLine);
        try
        {
            read.Wait(_quit.Token);
            return read.Result;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    private static string Summary(int turn, Completion c, int cached)
    {
        var s = c.Stats;
        return string.Create(CultureInfo.InvariantCulture,
            $"[turn {turn}: prefilled {s.PrefillTokens} new tokens, {cached} cached; {s.GeneratedTokens} generated, finish {c.FinishReason?.Name()}; prefill {s.PrefillMs:0.0} ms, decode {s.DecodeTokensPerSecond:0.0} tok/s; KV {s.KvPagesUsed} pages]");
    }
}
