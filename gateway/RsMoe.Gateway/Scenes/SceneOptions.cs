using System.ComponentModel.DataAnnotations;
using RsMoe.ServiceDefaults;

namespace RsMoe.Gateway.Scenes;

/// <summary>The section <c>Scenes</c>: large images captioned tile by tile (gRPC <c>CaptionScene</c>, REST <c>/v1/scenes</c>).</summary>
public sealed class SceneOptions
{
    public const string Section = "Scenes";

    /// <summary>Largest scene file accepted (default 2 GiB); it is written to <see cref="WorkDirectory"/>, never held in memory.</summary>
    [Range(1L, long.MaxValue)]
    public long MaxSceneBytes { get; set; } = 2L << 30;
    /// <summary>Largest width × height accepted (default 40,000², checked on the header).</summary>
    [Range(1L, long.MaxValue)]
    public long MaxPixels { get; set; } = 40_000L * 40_000;
    [Range(1, int.MaxValue)]
    public int MaxTiles { get; set; } = 50_000;
    /// <summary>
    /// Tiles of one scene in flight at once (each is a caption and a theme question through the experts). 2 gave the
    /// best rate on the 2-core reference constellation (docs/benchmarks/archives-and-scenes.md); more replicas take more.
    /// </summary>
    [Range(1, 256)]
    public int TileConcurrency { get; set; } = 2;
    /// <summary>Scenes captioned at once over both APIs; more wait their turn (REST jobs show <c>queued</c>).</summary>
    [Range(1, 64)]
    public int MaxRunningScenes { get; set; } = 2;
    /// <summary>REST jobs kept (running, queued or finished); a new one beyond this is refused until one is deleted or expires.</summary>
    [Range(1, 100_000)]
    public int MaxJobs { get; set; } = 64;
    /// <summary>How long a finished REST job's GeoJSON is kept.</summary>
    [Range(typeof(TimeSpan), OptionRanges.MinDuration, OptionRanges.MaxDuration)]
    public TimeSpan KeepFinishedFor { get; set; } = TimeSpan.FromHours(1);
    /// <summary>Where uploaded scenes are written while they are captioned; empty for the system's temporary folder.</summary>
    public string? WorkDirectory { get; set; }
}
