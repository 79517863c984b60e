namespace RsMoe.Gateway.Caching;

/// <summary>
/// Visual features by image: the key is the image bytes' SHA-256 plus the encoder's identity, the value the
/// encoder's output as compact tensor bytes. A cache never fails a request: when it cannot answer it says miss.
/// </summary>
public interface IFeatureCache
{
    /// <summary>"redis" or "in-process".</summary>
    string Kind { get; }
    Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken);
    Task SetAsync(string key, byte[] value, CancellationToken cancellationToken);
}
