using System.CommandLine;
using System.Diagnostics;
using Engine.Cli;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Cli;

/// <summary>The command line as people type it: errors that name the flag and the expected form, unknown commands, aliases, warnings.</summary>
public class CommandLineUsageTests
{
    private static string Stories => SharedAssets.Require("models", "stories260K");

    [TestCase("--temperature", "abc", "error: --temperature expects a number, got 'abc'")]
    [TestCase("--max-tokens", "1.5", "error: --max-tokens expects a whole number, got '1.5'")]
    [TestCase("--seed", "x", "error: --seed expects a whole number, got 'x'")]
    public void ValueThatDoesNotConvertNamesTheFlagAndTheForm(string flag, string value, string expected)
    {
        var (code, _, error) = Run("run", "--model", "whatever", "--prompt", "hi", flag, value);
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error.TrimEnd(), Does.StartWith(expected).And.Not.Contain("\n").And.Not.Contain("System."));
    }

    [TestCase(new[] { "run", "--prompt", "hi" }, "error: --model is required")]
    [TestCase(new[] { "run", "-m", "x", "--prompt", "hi", "--lagkv" }, "error: --lagkv expects a value, got nothing")]
    [TestCase(new[] { "run", "-m", "x", "--prompt", "hi", "--bogus" }, "error: unknown option '--bogus'")]
    [TestCase(new[] { "models", "extra" }, "error: unexpected argument 'extra'")]
    [TestCase(new[] { "bench", "-m", "x", "--repetitions", "abc" }, "error: --repetitions expects a whole number, got 'abc' (see: engine bench --help)")]
    public void OtherParseErrorsSayWhatIsWrong(string[] args, string expected)
    {
        var (code, _, error) = Run(args);
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error.TrimEnd(), Does.StartWith(expected).And.Not.Contain("\n"));
    }

    [Test]
    public void UnknownCommandIsNamedWithTheCommands()
    {
        var (code, _, error) = Run("foo");
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.StartWith("error: unknown command 'foo'").And.Contain("run, models").And.Contain("bench"));
        var (noneCode, _, none) = Run();
        Assert.That(noneCode, Is.EqualTo(ExitCodes.Usage));
        Assert.That(none, Does.StartWith("error: engine needs a command: run"));
        Assert.That(Run("eval", "bogus").Err, Does.StartWith("error: unknown command 'bogus'; engine eval has: kv, passkey"));
    }

    [Test]
    public void EveryModelFlagHasTheShortAlias()
    {
        var commands = new List<Command>();
        void Walk(Command c) { commands.Add(c); foreach (var sub in c.Subcommands) Walk(sub); }
        Walk(CliApp.BuildRoot());
        var withModel = commands.Where(c => c.Options.Any(o => o.Name == "--model")).ToList();
        Assert.That(withModel.Select(c => c.Name), Is.SupersetOf(new[] { "run", "bench", "info", "template", "tokenize", "kv", "passkey" }));
        foreach (var command in withModel)
            Assert.That(command.Options.Single(o => o.Name == "--model").Aliases, Does.Contain("-m"), command.Name);
        foreach (var command in commands.Where(c => c.Options.Any(o => o.Name == "--device")))
            Assert.That(command.Options.Single(o => o.Name == "--device").Aliases, Does.Contain("-d"), command.Name);
    }

    [Test]
    public void WeightsFileStandsForItsFolder()
    {
        var (code, output, error) = Run("run", "-m", Path.Combine(Stories, "model.safetensors"), "--prompt-ids", "1", "--max-tokens", "3", "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output, Does.StartWith("Once"));
        Assert.That(Run("tokenize", "-m", Path.Combine(Stories, "config.json"), "Once").Code, Is.EqualTo(0));
    }

    [Test]
    public void UnknownKvPolicyIsNamedWithTheKnownOnes()
    {
        var (code, _, error) = Run("run", "-m", Stories, "--prompt", "hi", "--kv-policy", "magic", "--device", "cpu");
        Assert.That(code, Is.EqualTo(ExitCodes.Error));
        Assert.That(error.TrimEnd(), Is.EqualTo("error: --kv-policy: unknown policy 'magic'; the policies are lagkv, streaming, snapkv, h2o, full"));
    }

    [Test]
    public void LagKvThatCannotCompressWithinTheContextWarns()
    {
        var (code, _, error) = Run("run", "-m", Stories, "--prompt-ids", "1", "--max-tokens", "2", "--lagkv", "4x", "--device", "cpu", "--json");
        Assert.That(code, Is.EqualTo(0), error);
        var warnings = error.Split('\n').Where(l => l.StartsWith("warning: --lagkv")).ToArray();
        Assert.That(warnings, Has.Length.EqualTo(1));
        Assert.That(warnings[0], Does.Contain("512 tokens").And.Contain("S + 2L"));
        var (_, _, quiet) = Run("run", "-m", Stories, "--prompt-ids", "1", "--max-tokens", "2", "--lagkv", "4x", "--lag-size", "64", "--device", "cpu", "--json");
        Assert.That(quiet, Does.Not.Contain("warning"));
    }

    [Test]
    public void ThreadsAboveTheCoreCountWarn()
    {
        int threads = Environment.ProcessorCount + 1;
        var (code, _, error) = Run("run", "-m", Stories, "--prompt-ids", "1", "--max-tokens", "2", "--device", "cpu", "--threads", $"{threads}");
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(error, Does.Contain($"warning: --threads {threads} exceeds the {Environment.ProcessorCount} cores"));
    }

    [Test]
    public void LauncherSaysItIsBuildingOnFirstRun()
    {
        if (OperatingSystem.IsWindows()) Assert.Ignore("the launcher is a bash script");
        using var root = new TempFolder();
        File.Copy(Path.Combine(SharedAssets.RepoRoot, "engine"), root.File("engine"));
        // A stand-in `dotnet` that builds nothing and runs nothing: only the launcher's own words are checked.
        string bin = Directory.CreateDirectory(root.File("bin")).FullName;
        File.WriteAllText(Path.Combine(bin, "dotnet"), "#!/usr/bin/env bash\nexit 0\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path.Combine(bin, "dotnet"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var start = new ProcessStartInfo("bash", [root.File("engine"), "doctor"]) { RedirectStandardError = true, RedirectStandardOutput = true };
        start.Environment["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH");
        using var process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.EqualTo(0), error);
        Assert.That(error, Does.Contain("building the engine (first run, about a minute"));
    }
}
