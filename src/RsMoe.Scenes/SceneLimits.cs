namespace RsMoe.Scenes;

/// <summary>
/// What a scene may be, checked on its header before any pixel is read. Set apart from the single-image
/// <c>ImageLimits</c>: a scene is read tile by tile, so it may be far larger than an image the services decode whole.
/// </summary>
public sealed record SceneLimits
{
    /// <summary>Largest scene file accepted (default 32 GiB).</summary>
    public long MaxBytes { get; init; } = 32L << 30;
    /// <summary>Largest width × height accepted (default 100,000², a large orthophoto).</summary>
    public long MaxPixels { get; init; } = 100_000L * 100_000;
    /// <summary>Most tiles one scene may be cut into (default 250,000).</summary>
    public int MaxTiles { get; init; } = 250_000;

    public static SceneLimits Default { get; } = new();
}

/// <summary>A scene that cannot be read or tiled, with a message that says why (a client's fault, not the server's).</summary>
public sealed class SceneRejectedException(string message, Exception? inner = null) : Exception(message, inner);
