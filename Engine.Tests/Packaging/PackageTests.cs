using System.Diagnostics;
using System.Security;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Packaging;

/// <summary>
/// The NuGet packages as a user meets them: scripts/pack.sh writes them to a folder; a fresh console app
/// takes Engine.Models from that folder and generates from stories260K; the Engine.Cli tool installs from
/// it and runs. Everything happens in a temp folder with its own package cache, so nothing stale is used.
/// Skipped with a message when the packages' dependencies cannot be restored (no network, no cache).
/// </summary>
[TestFixture]
[NonParallelizable]
public class PackageTests
{
    private TempFolder _temp = null!;
    private string _feed = "";

    [OneTimeSetUp]
    public void Pack()
    {
        if (OperatingSystem.IsWindows()) Assert.Ignore("scripts/pack.sh is a bash script");
        _temp = new TempFolder();
        _feed = Directory.CreateDirectory(_temp.File("feed")).FullName;
        var (code, output) = Start("bash", [Path.Combine(SharedAssets.RepoRoot, "scripts", "pack.sh"), _feed], SharedAssets.RepoRoot);
        Assert.That(code, Is.EqualTo(0), output);
    }

    [OneTimeTearDown]
    public void Clean() => _temp?.Dispose();

    [Test]
    public void PackagesAreASetWithOneVersionAndTheirMetadata()
    {
        string[] names = Directory.GetFiles(_feed).Select(Path.GetFileName).Order().ToArray()!;
        Assert.That(names, Is.EqualTo(new[]
        {
            "Engine.Cli.0.1.0.nupkg", "Engine.Cli.0.1.0.snupkg", "Engine.Core.0.1.0.nupkg", "Engine.Core.0.1.0.snupkg",
            "Engine.Kernels.0.1.0.nupkg", "Engine.Kernels.0.1.0.snupkg", "Engine.Models.0.1.0.nupkg", "Engine.Models.0.1.0.snupkg",
        }));
        using var package = System.IO.Compression.ZipFile.OpenRead(Path.Combine(_feed, "Engine.Models.0.1.0.nupkg"));
        string nuspec = new StreamReader(package.GetEntry("Engine.Models.nuspec")!.Open()).ReadToEnd();
        Assert.That(nuspec, Does.Contain("<license type=\"expression\">MIT</license>").And.Contain("<readme>README.md</readme>")
            .And.Contain("<description>").And.Contain("<repository type=\"git\"").And.Contain("<dependency id=\"Engine.Kernels\" version=\"0.1.0\""));
        Assert.That(package.GetEntry("README.md"), Is.Not.Null);
    }

    [Test]
    public void FreshConsoleAppGeneratesThroughThePackage()
    {
        string stories = Path.GetFullPath(SharedAssets.Require("models", "stories260K"));
        string app = Directory.CreateDirectory(_temp.File("app")).FullName;
        WriteNugetConfig(app);
        Run("dotnet", ["new", "console", "--output", app, "--name", "App", "--no-restore"], app);
        Restore(Start("dotnet", ["add", "package", "Engine.Models"], app));
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using Engine.Core.Hub;
            using Engine.Models;

            using var engine = InferenceEngine.Load(args[0], new EngineOptions { Device = "cpu" });
            var completion = engine.Generate("Once upon a time", engine.DefaultOptions() with { MaxTokens = 20 });
            foreach (var token in completion.Run()) Console.Write(token.Text);
            Console.WriteLine();
            Console.WriteLine($"finish {completion.FinishReason}; {ModelRegistry.Default.Entries.Count} models in the built-in registry");
            """);
        string output = Run("dotnet", ["run", "--", stories], app);
        Assert.That(output, Does.Contain("there was a little").And.Contain("finish Length"));
        Assert.That(output, Does.Match(@"[1-9][0-9]* models in the built-in registry"), "models.json ships inside Engine.Core");
    }

    [Test]
    public void EngineInstallsAsADotnetTool()
    {
        string stories = Path.GetFullPath(SharedAssets.Require("models", "stories260K"));
        string tools = _temp.File("tools");
        Restore(Start("dotnet", ["tool", "install", "--tool-path", tools, "--add-source", _feed, "Engine.Cli"], _temp.Path));
        string output = Run(Path.Combine(tools, "engine"), ["run", "-m", stories, "--prompt-ids", "1", "--max-tokens", "10", "--device", "cpu"], _temp.Path);
        Assert.That(output, Does.StartWith("Once upon a time"));
    }

    /// <summary>The feed for Engine.* only; everything else from this machine's package cache, else nuget.org.</summary>
    private void WriteNugetConfig(string folder)
    {
        string cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string Source(string key, string value) => $"""    <add key="{key}" value="{SecurityElement.Escape(value)}" />""";
        File.WriteAllText(Path.Combine(folder, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
            {Source("engine", _feed)}
            {(Directory.Exists(cache) ? Source("machine-cache", cache) : "")}
            {Source("nuget.org", "https://api.nuget.org/v3/index.json")}
              </packageSources>
              <packageSourceMapping>
                <packageSource key="engine"><package pattern="Engine.*" /></packageSource>
                {(Directory.Exists(cache) ? """<packageSource key="machine-cache"><package pattern="*" /></packageSource>""" : "")}
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
    }

    /// <summary>A restore that failed for want of the network is a skip, not a failure.</summary>
    private static void Restore((int Code, string Output) result)
    {
        if (result.Code != 0 && (result.Output.Contains("NU1301") || result.Output.Contains("NU1101") || result.Output.Contains("Unable to load the service index")))
            Assert.Ignore($"the packages' dependencies could not be restored (no network and not in the package cache): {result.Output.Trim().Split('\n')[^1]}");
        Assert.That(result.Code, Is.EqualTo(0), result.Output);
    }

    private (int Code, string Output) Start(string file, string[] args, string directory)
    {
        var start = new ProcessStartInfo(file, args) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        // Nothing of the test host's own build leaks into the child builds; the packages land in a cache of this test's own.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        if (_temp is not null) start.Environment["NUGET_PACKAGES"] = _temp.File("packages");
        // No build servers or reused nodes outliving the child: they would hold the test host's pipes open.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["UseSharedCompilation"] = "false";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5))) { process.Kill(entireProcessTree: true); Assert.Fail($"{file} {string.Join(' ', args)} ran over 5 minutes"); }
        return (process.ExitCode, stdout + stderr.Result);
    }

    private string Run(string file, string[] args, string directory)
    {
        var (code, output) = Start(file, args, directory);
        Assert.That(code, Is.EqualTo(0), $"{file} {string.Join(' ', args)}: {output}");
        return output;
    }
}
