using Engine.Cli;
using NUnit.Framework;

namespace Engine.Tests.Cli;

/// <summary>`engine serve` flag checks: one clear error line before anything listens or loads.</summary>
[TestFixture]
public sealed class ServeCommandTests
{
    [TestCase(new[] { "--kv-policy", "snapkv" }, "needs a budget")]
    [TestCase(new[] { "--port", "70000" }, "--port must be between 0 and 65535")]
    [TestCase(new[] { "--max-queue", "-1" }, "--max-queue must be >= 0")]
    [TestCase(new[] { "--chat-template", "/no/such/template.jinja" }, "--chat-template file")]
    [TestCase(new[] { "--lag-size", "8" }, "--lag-size needs --lagkv")]
    [TestCase(new[] { "--page-size", "3" }, "--page-size must be a power of two")]
    [TestCase(new[] { "--host", "not-an-address", "--port", "0" }, "--host 'not-an-address'")]
    public void Bad_flags_are_one_line_errors(string[] flags, string message)
    {
        var stderr = new StringWriter();
        int exit = CliApp.Run(["serve", "--model", "/no/such/model", .. flags], new StringWriter(), stderr);
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(stderr.ToString(), Does.StartWith("error: ").And.Contain(message));
        Assert.That(stderr.ToString().Trim().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public void A_model_that_cannot_load_is_an_error_and_exit_1()
    {
        var stderr = new StringWriter();
        int exit = CliApp.Run(["serve", "--model", "/no/such/model", "--port", "0"], new StringWriter(), stderr);
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(stderr.ToString(), Does.Contain("error: model '/no/such/model' not found"));
    }
}
