using System.Diagnostics;
using NUnit.Framework;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace Engine.Tests.Server;

/// <summary>
/// The web chat page in a real headless browser (Debian's chromium and chromedriver, driven by Selenium):
/// it streams a reply and draws the reply's KV cache per layer. Installs the browser with apt-get when it
/// can (root), else skips with the reason.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ChatPageBrowserTests
{
    private const string Chromium = "/usr/bin/chromium", Driver = "/usr/bin/chromedriver";

    [Test]
    public async Task Page_streams_a_reply_and_draws_the_kv_cache_per_layer()
    {
        EnsureBrowser();
        await using var server = await TestServer.StartAsync();
        var options = new ChromeOptions { BinaryLocation = Chromium };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1300,900");
        using var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(Driver)!, Path.GetFileName(Driver));
        service.HideCommandPromptWindow = true;
        using var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        driver.Navigate().GoToUrl(server.Address);
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(60));
        wait.Until(d => d.FindElement(By.Id("health")).Text == "ready");
        Assert.That(driver.FindElement(By.Id("model")).Text, Does.Contain(TestServer.ModelName));

        void Set(string id, string value)
        {
            var field = driver.FindElement(By.Id(id));
            field.Clear();
            field.SendKeys(value);
        }
        Set("max_tokens", "40");
        Set("temperature", "0");
        driver.FindElement(By.CssSelector("#kv_policy option:nth-child(3)")).Click(); // lagkv
        Set("kv_ratio", "2x");
        Set("kv_lag", "4");
        Set("kv_sink", "2");
        driver.FindElement(By.Id("input")).SendKeys("Tell me about a cat.");
        driver.FindElement(By.Id("send")).Click();

        wait.Until(d => d.FindElements(By.CssSelector("#kv-layers .layer")).Count == 5);
        string reply = driver.FindElement(By.CssSelector(".message.assistant .text")).Text;
        Assert.That(reply, Is.Not.Empty);
        Assert.That(driver.FindElement(By.Id("kv-summary")).Text, Does.Contain("policy lagkv"));
        foreach (var layer in driver.FindElements(By.CssSelector("#kv-layers .layer")))
        {
            int logical = int.Parse(layer.GetAttribute("data-logical")!), physical = int.Parse(layer.GetAttribute("data-physical")!);
            Assert.That(physical, Is.LessThan(logical), "LagKV kept fewer slots than tokens seen");
        }
        wait.Until(d => d.FindElement(By.Id("status")).Text.Contains("generated tokens"));
        Assert.That(driver.FindElement(By.Id("send")).Enabled, Is.True);
        // To look at the page: ENGINE_PAGE_SCREENSHOT=/tmp/page.png
        if (Environment.GetEnvironmentVariable("ENGINE_PAGE_SCREENSHOT") is { Length: > 0 } path)
            driver.GetScreenshot().SaveAsFile(path);
    }

    private static void EnsureBrowser()
    {
        if (File.Exists(Chromium) && File.Exists(Driver)) return;
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root" || !File.Exists("/usr/bin/apt-get"))
            Assert.Ignore($"needs Debian's chromium and chromium-driver ({Chromium}, {Driver}); install them with apt-get install chromium chromium-driver");
        var install = Process.Start(new ProcessStartInfo("/usr/bin/apt-get", "install -y --no-install-recommends chromium chromium-driver")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, Environment = { ["DEBIAN_FRONTEND"] = "noninteractive" },
        })!;
        var output = install.StandardOutput.ReadToEndAsync();
        var errors = install.StandardError.ReadToEndAsync();
        if (!install.WaitForExit(TimeSpan.FromMinutes(5))) install.Kill(entireProcessTree: true);
        if (!File.Exists(Chromium) || !File.Exists(Driver))
            Assert.Ignore($"could not install chromium and chromium-driver with apt-get: {errors.Result.Trim().Split('\n').LastOrDefault()}");
        _ = output.Result;
    }
}
