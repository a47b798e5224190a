namespace Engine.Core.Kv.LagKv;

/// <summary>How LagKV is applied (see docs/lagkv.md).</summary>
public enum LagKvMode
{
    /// <summary>The reference LagKV cache: every completed partition is compressed as soon as its successor is complete, in prefill and decode.</summary>
    Reference,
    /// <summary>kvpress semantics: one compression after the context prefill, keeping a global fraction of the sequence.</summary>
    Press,
}
