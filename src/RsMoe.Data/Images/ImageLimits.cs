namespace RsMoe.Data.Images;

/// <summary>What an image may be before it is decoded. Checked on the header, before any pixel is allocated.</summary>
public sealed record ImageLimits
{
    /// <summary>Largest encoded file accepted (default 64 MiB).</summary>
    public long MaxBytes { get; init; } = 64L << 20;
    /// <summary>Largest width × height accepted (default 16384², a large scene). Pixels are streamed, never held whole.</summary>
    public long MaxPixels { get; init; } = 16384L * 16384;
    public int MaxSide { get; init; } = 65535;

    public static ImageLimits Default { get; } = new();
}

/// <summary>Why an image was refused, for a clear message (and the right status in a service).</summary>
public enum ImageProblem { Empty, TooLarge, TooManyPixels, UnknownFormat, Corrupt }

public sealed class ImageRejectedException(ImageProblem problem, string message, Exception? inner = null) : Exception(message, inner)
{
    public ImageProblem Problem { get; } = problem;
}
