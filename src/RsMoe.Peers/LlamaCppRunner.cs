using System.Diagnostics;
using System.Runtime.InteropServices;
using LLama;
using LLama.Common;
using LLama.Native;

namespace RsMoe.Peers;

/// <summary>
/// llama.cpp, as LLamaSharp ships it, run on token ids: greedy decoding with the prefill and decode timed apart, the
/// way <c>rsmoe bench lm</c> times our decoder. One instance holds one model and one context.
/// </summary>
public sealed class LlamaCppRunner : IDisposable
{
    public sealed record Generation(int[] Tokens, double PrefillTokensPerSecond, double DecodeTokensPerSecond);

    readonly LLamaWeights weights;
    readonly LLamaContext context;

    /// <param name="exactCache">An F32 key/value cache and no flash attention, for parity checks. llama.cpp's defaults, which
    /// the benchmarks use, are an F16 cache and flash attention; they move logits by about 1e-3 of their range.</param>
    public LlamaCppRunner(string ggufPath, int threads, int contextSize = 512, bool exactCache = false)
    {
        if (!File.Exists(ggufPath)) throw new FileNotFoundException($"no GGUF file at {ggufPath}", ggufPath);
        var parameters = new ModelParams(ggufPath)
        {
            ContextSize = (uint)contextSize,
            GpuLayerCount = 0,
            Threads = threads,
            BatchThreads = threads,
            BatchSize = (uint)contextSize,
        };
        if (exactCache) { (parameters.TypeK, parameters.TypeV) = (GGMLType.GGML_TYPE_F32, GGMLType.GGML_TYPE_F32); parameters.FlashAttention = false; }
        weights = LLamaWeights.LoadFromFile(parameters);
        context = weights.CreateContext(parameters);
    }

    /// <summary>The native build that loaded (LLamaSharp picks the best one the CPU supports) and llama.cpp's own summary of it.</summary>
    public static string Variant
    {
        get
        {
            var build = NativeApi.GetLoadedNativeLibrary(NativeLibraryName.LLama)?.Metadata?.AvxLevel.ToString() ?? "unknown";
            string system = Marshal.PtrToStringAnsi(NativeApi.llama_print_system_info()) ?? "";
            return $"LLamaSharp.Backend.Cpu 0.30.0, {build} build; {system.Trim()}";
        }
    }

    /// <summary>Silences llama.cpp's load log (it writes to stderr); call before the first model is loaded.</summary>
    public static void QuietNativeLog() => NativeLibraryConfig.All.WithLogCallback((level, message) =>
    {
        if (level == LLamaLogLevel.Error) Console.Error.Write(message);
    });

    /// <summary>Greedy tokens after <paramref name="prompt"/>; stops early only at <paramref name="stopTokens"/>.</summary>
    public Generation Greedy(IReadOnlyList<int> prompt, int newTokens, IReadOnlyCollection<int>? stopTokens = null)
    {
        if (prompt.Count == 0) throw new ArgumentException("the prompt needs at least one token");
        if (prompt.Count + newTokens > context.ContextSize) throw new ArgumentException($"{prompt.Count} + {newTokens} tokens exceed the context of {context.ContextSize}");
        context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Count; i++) batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Count - 1);

        var clock = Stopwatch.StartNew();
        Check(context.NativeHandle.Decode(batch));
        int next = ArgMax(context.NativeHandle.GetLogitsIth(batch.TokenCount - 1));
        double prefillSeconds = clock.Elapsed.TotalSeconds;

        var tokens = new List<int> { next };
        clock.Restart();
        for (int position = prompt.Count; tokens.Count < newTokens && !(stopTokens?.Contains(next) ?? false); position++)
        {
            batch.Clear();
            batch.Add(next, position, LLamaSeqId.Zero, true);
            Check(context.NativeHandle.Decode(batch));
            next = ArgMax(context.NativeHandle.GetLogitsIth(0));
            tokens.Add(next);
        }
        double decodeSeconds = clock.Elapsed.TotalSeconds;
        // As our generator counts: the first new token belongs to the prefill, the rest to decoding.
        return new Generation(tokens.ToArray(), prompt.Count / prefillSeconds, tokens.Count > 1 ? (tokens.Count - 1) / decodeSeconds : 0);
    }

    /// <summary>The next-token logits after <paramref name="prompt"/> (a fresh sequence).</summary>
    public float[] Logits(IReadOnlyList<int> prompt)
    {
        context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Count; i++) batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Count - 1);
        Check(context.NativeHandle.Decode(batch));
        return context.NativeHandle.GetLogitsIth(batch.TokenCount - 1).ToArray();
    }

    static int ArgMax(Span<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    static void Check(DecodeResult result)
    {
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {result}");
    }

    public void Dispose()
    {
        context.Dispose();
        weights.Dispose();
    }
}
