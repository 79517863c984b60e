using static TorchSharp.torch;

namespace RsMoe.Model.Vision;

/// <summary>
/// One of the eight ways to lay a square photo down (the symmetries of the square: quarter turns and mirrors), as a
/// turn of an image batch [B, C, H, W] and the turn that undoes it on a feature map of the same layout. An aerial photo
/// has no up, so the image encoder may average its map over several orientations (<see cref="First"/>).
/// </summary>
public sealed record SquareOrientation(string Name, Func<Tensor, Tensor> Turn, Func<Tensor, Tensor> TurnBack)
{
    static readonly (long, long) Plane = (2, 3);

    /// <summary>All eight, ordered so the first 1, 2, 4 and 8 are each closed under composition (a group): averaging over
    /// any of them treats the orientations in it alike.</summary>
    public static IReadOnlyList<SquareOrientation> All { get; } =
    [
        new("as-is", x => x, m => m),
        new("mirrored", x => x.flip(3), m => m.flip(3)),
        new("flipped", x => x.flip(2), m => m.flip(2)),
        new("half-turn", x => x.rot90(2, Plane), m => m.rot90(2, Plane)),
        new("quarter-turn", x => x.rot90(1, Plane), m => m.rot90(-1, Plane)),
        new("three-quarter-turn", x => x.rot90(-1, Plane), m => m.rot90(1, Plane)),
        new("transposed", x => x.transpose(2, 3), m => m.transpose(2, 3)),
        new("anti-transposed", x => x.rot90(1, Plane).flip(3), m => m.flip(3).rot90(-1, Plane)),
    ];

    /// <summary>How many orientations an encoder may average over: the sizes of <see cref="All"/>'s leading groups.</summary>
    public static IReadOnlyList<int> Counts { get; } = [1, 2, 4, 8];

    /// <summary>The first <paramref name="count"/> orientations (1: the photo as it is; 8: every one).</summary>
    public static IReadOnlyList<SquareOrientation> First(int count) => Counts.Contains(count)
        ? All.Take(count).ToArray()
        : throw new ArgumentOutOfRangeException(nameof(count), count, $"image orientations must be one of {string.Join(", ", Counts)}");
}
