using TorchSharp;

namespace RsMoe.Model;

/// <summary>
/// Long-lived TorchSharp scalars for tensor–number operations in hot paths. A temporary <see cref="Scalar"/> (what
/// <c>tensor + 1</c> makes implicitly) can be finalised by the GC while libtorch still reads it, which shows up under
/// load as a rare "Expected false to be true … toDouble" failure (seen in a 10-minute soak: 2 of 51,715 requests).
/// Constants live here; a per-module value lives in a field; a per-call value is held with <c>using</c> for the call.
/// </summary>
public static class Scalars
{
    public static readonly Scalar Zero = 0;
    public static readonly Scalar One = 1;
    public static readonly Scalar MinusOne = -1;
    public static readonly Scalar Two = 2;
    public static readonly Scalar NegativeInfinity = float.NegativeInfinity;
}
