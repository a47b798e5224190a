using System.CommandLine;
using System.Text.Json.Nodes;
using Engine.Core;
using Engine.Cli.Options;
using Engine.Core.Hub;
using Engine.Core.Text.Templates;
using Engine.Cli.Formatting;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine template --model M --messages FILE.json`: prints the prompt the model's chat template renders,
/// exactly as Hugging Face's apply_chat_template(..., tokenize=False) would.
/// </summary>
internal static class TemplateCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model($"{CommonOptions.ModelDescription} (tokenizer_config.json and/or chat_template.jinja suffice)");
        var messages = new Option<string>("--messages") { Description = "JSON file: an array of messages ({\"role\", \"content\", ...}) or an object with a \"messages\" array", Required = true };
        var noGenerationPrompt = new Option<bool>("--no-generation-prompt") { Description = "Render without the assistant generation prompt (add_generation_prompt=false)" };
        var templateInputs = new TemplateVariableOptions();
        var json = new Option<bool>("--json") { Description = "Print {\"text\": ...} instead of the raw prompt" };
        var command = new Command("template", "Render a model's chat template for a conversation");
        foreach (var option in new Option[] { model, messages, noGenerationPrompt, json })
            command.Options.Add(option);
        templateInputs.AddTo(command);
        command.SetAction(new Func<ParseResult, int>(pr =>
        {
            string folder = ModelLocator.ResolveFolder(pr.GetValue(model)!);
            var template = ChatTemplate.LoadRequired(folder);
            var conversation = ReadMessages(pr.GetValue(messages)!);
            var inputs = templateInputs.Read(pr);
            string text = template.Render(conversation, inputs.Tools, !pr.GetValue(noGenerationPrompt), inputs.Variables, inputs.Now ?? DateTime.Now);
            var output = pr.InvocationConfiguration.Output;
            if (pr.GetValue(json))
            {
                output.WriteLine(new JsonObject { ["text"] = text }.ToJsonString(CliJson.Compact));
            }
            else output.Write(text);
            return 0;
        }));
        return command;
    }

    private static List<JsonObject> ReadMessages(string path)
    {
        var node = TemplateVariableOptions.ReadJsonFile(path, "messages");
        if (node is JsonObject wrapper && wrapper["messages"] is JsonArray inner) node = inner;
        if (node is not JsonArray list)
            throw new EngineException($"messages file '{path}' must hold a JSON array of messages or an object with a \"messages\" array");
        var result = new List<JsonObject>();
        foreach (var item in list)
        {
            if (item is not JsonObject message)
                throw new EngineException($"messages file '{path}': every message must be a JSON object, got {item?.ToJsonString() ?? "null"}");
            result.Add(message);
        }
        return result;
    }
}
