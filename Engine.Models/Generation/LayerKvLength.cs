namespace Engine.Models.Generation;

/// <summary>One layer's cache at the end of a request: tokens seen and slots held.</summary>
public readonly record struct LayerKvLength(int LogicalLength, int PhysicalLength);
