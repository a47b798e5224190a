namespace Engine.Tests.Support;

/// <summary>
/// A copy of the shared stories260K model (a real trained model with a tokenizer) with a small
/// role-tagged chat template added, for tests of chat paths (IChatClient, `engine run --chat`).
/// </summary>
public static class StoriesChatModel
{
    public const string Template =
        "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

    /// <summary>The folder (deleted with the returned <see cref="TempFolder"/>); the test is skipped without ../shared.</summary>
    public static TempFolder Create()
    {
        string stories = SharedAssets.Require("models", "stories260K");
        var folder = new TempFolder();
        foreach (string file in new[] { "config.json", "generation_config.json", "model.safetensors", "tokenizer.json" })
            File.Copy(Path.Combine(stories, file), folder.File(file));
        File.WriteAllText(folder.File("chat_template.jinja"), Template);
        return folder;
    }
}
