using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace RsMoe.Model.Decoding;

/// <summary>
/// A fixed team of threads that runs one parallel region at a time: the caller takes part 0, the team's workers the
/// rest. A decode step opens about sixty regions (every projection group and every layer's attention), and a
/// <see cref="Parallel.For"/> costs 5–10 µs a region on this machine with nothing to do, a team about 1.5 µs
/// (<see cref="DecodeProbes.ParallelRegionMicroseconds"/>), several per cent of a small model's step; as llama.cpp's
/// and OpenMP's thread pools do, the workers spin between regions instead (for <see cref="SpinMicroseconds"/>, then
/// they sleep, so an idle decoder costs no CPU). Teams are pooled by size: <see cref="Rent"/> one for a decode step
/// and <see cref="Return"/> it after, so decoders running at once never share one.
/// </summary>
internal sealed class ThreadTeam
{
    /// <summary>How long an idle worker spins for the next region before it sleeps.</summary>
    public const int SpinMicroseconds = 200;

    static readonly ConcurrentDictionary<int, ConcurrentBag<ThreadTeam>> Pool = new();
    const int YieldAfterSpins = 100_000;
    static readonly long SpinTicks = Stopwatch.Frequency * SpinMicroseconds / 1_000_000;

    readonly object _gate = new();
    Action<int>? _body;
    int _parts, _generation, _pending, _sleepers;
    Exception? _error;

    /// <summary>Threads that run a region, the caller included.</summary>
    public int Size { get; }

    ThreadTeam(int size)
    {
        Size = size;
        for (int part = 1; part < size; part++)
        {
            int p = part;
            new Thread(() => Work(p)) { IsBackground = true, Name = $"rsmoe-decode-{p}" }.Start();
        }
    }

    /// <summary>A team of <paramref name="size"/> threads (the caller being one) that no one else uses until it is returned.</summary>
    public static ThreadTeam Rent(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        return Pool.GetOrAdd(size, _ => []).TryTake(out var team) ? team : new ThreadTeam(size);
    }

    public static void Return(ThreadTeam team) => Pool.GetOrAdd(team.Size, _ => []).Add(team);

    /// <summary>Runs <paramref name="body"/>(p) for p in [0, parts) on the team, part 0 on the calling thread; returns when all are done.</summary>
    public void Run(int parts, Action<int> body)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(parts, Size);
        if (parts <= 1) { body(0); return; }
        _body = body;
        _parts = parts;
        _error = null;
        Volatile.Write(ref _pending, Size - 1);
        Interlocked.Increment(ref _generation);
        // A worker announces itself as a sleeper before it checks the generation, so one of the two sees the other.
        if (Volatile.Read(ref _sleepers) > 0) lock (_gate) Monitor.PulseAll(_gate);
        try { body(0); }
        catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
        // Wait for the workers even after a failure: they write into the caller's buffers.
        // Spin on one pause at a time (SpinWait's backoff measured slower here); yield only if a worker
        // seems descheduled, so an oversubscribed machine still makes progress.
        for (int spins = 0; Volatile.Read(ref _pending) > 0; spins++)
        {
            if (spins < YieldAfterSpins) Thread.SpinWait(1);
            else Thread.Yield();
        }
        _body = null;
        if (_error is { } error) ExceptionDispatchInfo.Throw(error);
    }

    void Work(int part)
    {
        int seen = 0;
        while (true)
        {
            seen = WaitForRegion(seen);
            try { if (part < _parts) _body!(part); }
            catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
            Interlocked.Decrement(ref _pending);
        }
    }

    int WaitForRegion(int seen)
    {
        long deadline = Stopwatch.GetTimestamp() + SpinTicks;
        while (Volatile.Read(ref _generation) == seen)
        {
            if (Stopwatch.GetTimestamp() < deadline) { Thread.SpinWait(1); continue; }
            lock (_gate)
            {
                Interlocked.Increment(ref _sleepers);
                while (Volatile.Read(ref _generation) == seen) Monitor.Wait(_gate);
                Interlocked.Decrement(ref _sleepers);
            }
        }
        return Volatile.Read(ref _generation);
    }
}
