using System.CommandLine;
using System.Text.Json;
using Engine.Core;
using Engine.Core.Hub;
using Engine.Core.Text;
using Engine.Cli.Options;
using Engine.Cli.Formatting;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine tokenize --model M [--no-special] [--json] (TEXT | --file PATH)`: prints the ids Hugging Face's
/// <c>tokenizer(text)["input_ids"]</c> gives, space-separated, or <c>{"ids": [...], "tokens": [...]}</c>.
/// Needs only the tokenizer files of the model.
/// </summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model($"{CommonOptions.ModelDescription} (tokenizer files suffice)");
        var noSpecial = new Option<bool>("--no-special") { Description = "Do not add special tokens such as BOS (add_special_tokens=False)" };
        var json = new Option<bool>("--json") { Description = "Print {\"ids\": [...], \"tokens\": [...]}" };
        var file = new Option<string?>("--file") { Description = "Read the text from this UTF-8 file instead of the argument" };
        var text = new Argument<string?>("text") { Description = "The text to tokenize", Arity = ArgumentArity.ZeroOrOne };

        var command = new Command("tokenize", "Print the token ids of a text");
        command.Options.Add(model);
        command.Options.Add(noSpecial);
        command.Options.Add(json);
        command.Options.Add(file);
        command.Arguments.Add(text);
        command.SetAction(new Func<ParseResult, int>(parsed =>
        {
            string input = ReadInput(parsed.GetValue(text), parsed.GetValue(file));
            var tokenizer = TextTokenizer.Load(ModelLocator.ResolveFolder(parsed.GetValue(model)!));
            int[] ids = tokenizer.Encode(input, addSpecialTokens: !parsed.GetValue(noSpecial));
            var output = parsed.InvocationConfiguration.Output;
            if (parsed.GetValue(json))
            {
                var document = new { ids, tokens = ids.Select(tokenizer.IdToToken).ToArray() };
                output.WriteLine(JsonSerializer.Serialize(document, CliJson.Compact));
            }
            else
            {
                output.WriteLine(string.Join(' ', ids));
            }
            return 0;
        }));
        return command;
    }

    /// <summary>The text argument or the --file contents: exactly one of them.</summary>
    private static string ReadInput(string? text, string? file)
    {
        if (text is not null && file is not null) throw new EngineException("give the text either as an argument or with --file, not both");
        if (file is null) return text ?? throw new EngineException("no text to tokenize: give it as an argument or with --file");
        if (!File.Exists(file)) throw new EngineException($"text file {file} not found");
        return File.ReadAllText(file);
    }
}
