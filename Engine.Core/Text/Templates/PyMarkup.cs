namespace Engine.Core.Text.Templates;

/// <summary>
/// markupsafe's Markup, made by the `safe` and `escape` filters: text marked HTML-safe. Adding a plain string to
/// it HTML-escapes that string (so `"x"|safe + json` escapes the JSON, exactly as jinja2 does); elsewhere it
/// behaves as its text.
/// </summary>
internal sealed class PyMarkup
{
    public PyMarkup(string text) => Text = text;

    public string Text { get; }

    public static string Escape(string s) =>
        s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");

    /// <summary>The value with Markup turned into its plain text (operations other than + see only text).</summary>
    public static object? Plain(object? value) => value is PyMarkup m ? m.Text : value;
}
