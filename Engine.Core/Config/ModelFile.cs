namespace Engine.Core.Config;

/// <summary>A model folder's file listed with its size (symbolic links, as in the Hugging Face cache, resolved).</summary>
public sealed record ModelFile(string Name, long Bytes);
