namespace Engine.Models.Kv;

/// <summary>A KV-cache policy that can time its own compression work (only the steps that compress).</summary>
public interface ITimedKvPolicy : IKvCachePolicy
{
    /// <summary>Where compression time is added; null (the default) measures nothing.</summary>
    KvCompressionTimer? Timer { get; set; }
}
