using Engine.Core.Text.Templates;

namespace Engine.Server.Tools;

/// <summary>How a model writes tool calls: Qwen2.5's &lt;tool_call&gt; JSON blocks or Llama 3.1's bare JSON object.</summary>
public enum ToolCallFormat
{
    Qwen,
    Llama31,
}

public static class ToolCallFormats
{
    /// <summary>The format a chat template asks for, from the markers it writes; null when it shows none.</summary>
    public static ToolCallFormat? Detect(ChatTemplate? template) =>
        template is null ? null
        : template.Source.Contains("<tool_call>", StringComparison.Ordinal) ? ToolCallFormat.Qwen
        : template.Source.Contains("<|start_header_id|>", StringComparison.Ordinal) ? ToolCallFormat.Llama31
        : null;
}
