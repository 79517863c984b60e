using System.Diagnostics;

namespace RsMoe.Model.Decoding;

/// <summary>
/// Where a decode step's time goes, phase by phase, summed over the steps run while it is attached to a
/// <see cref="CpuDecoder"/> (<c>rsmoe bench lm-one --profile</c>). Off by default: a step then reads no clock.
/// </summary>
public sealed class DecodeProfile
{
    public enum Phase { Embed, Norms, InputPacking, QkvProjection, RopeAndCache, Attention, OProjection, GateUpProjection, SiluMul, DownProjection, Head }

    readonly long[] _ticks = new long[Enum.GetValues<Phase>().Length];
    long _last;

    public long Steps { get; internal set; }

    internal void Start() => _last = Stopwatch.GetTimestamp();

    /// <summary>Charges the time since the last mark to <paramref name="phase"/>.</summary>
    internal void Mark(Phase phase)
    {
        long now = Stopwatch.GetTimestamp();
        _ticks[(int)phase] += now - _last;
        _last = now;
    }

    /// <summary>Microseconds per step in each phase.</summary>
    public IReadOnlyDictionary<string, double> MicrosecondsPerStep() =>
        Enum.GetValues<Phase>().ToDictionary(p => p.ToString(), p => Steps == 0 ? 0 : _ticks[(int)p] * 1e6 / Stopwatch.Frequency / Steps);
}
