using RsMoe.Model.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Vision;

/// <summary>
/// Which of ResNet-18's feature maps becomes the visual tokens, and at what input size: the tensor's name in the graph,
/// its channels and stride, and how many 224-px tiles each side of the input is cut into (the exported graphs take
/// 224 × 224 only, so a larger input is encoded tile by tile and the tiles' maps laid side by side again).
/// </summary>
public sealed record ResNetTap(string Name, string Output, int Width, int Stride, int Tiles)
{
    /// <summary>The last stage at 224 px: 7 × 7 × 512, the encoder's default (and of models that name plain <c>resnet18</c>).</summary>
    public static ResNetTap LastStage { get; } = new("", "ReLU393_Output_0", 512, 32, 1);
    /// <summary>The third stage's output at 224 px: 14 × 14 × 256 (finer, less abstract).</summary>
    public static ResNetTap ThirdStage { get; } = new("layer3", "ReLU347_Output_0", 256, 16, 1);
    /// <summary>The last stage at 448 px, as 2 × 2 tiles of 224: 14 × 14 × 512 (each tile seen at twice the detail).</summary>
    public static ResNetTap LastStageTiled { get; } = new("tiles2x2", "ReLU393_Output_0", 512, 32, 2);

    /// <summary>
    /// The last stage's map before its final residual block at 224 px: 7 × 7 × 512. What the shipped model reads (it
    /// probes better than the block's output on every benchmark: the block is ImageNet's most specific part) and what a
    /// tuned last block would read.
    /// </summary>
    public static ResNetTap BeforeLastBlock { get; } = new("before-last-block", "ReLU379_Output_0", 512, 32, 1);

    /// <summary>The last stage's map after its first (down-sampling) block at 224 px: 7 × 7 × 512, one block earlier still.</summary>
    public static ResNetTap AfterFirstLastStageBlock { get; } = new("last-stage-first-block", "ReLU365_Output_0", 512, 32, 1);

    /// <summary>Every tap, the default first.</summary>
    public static IReadOnlyList<ResNetTap> All { get; } = [LastStage, ThirdStage, LastStageTiled, BeforeLastBlock, AfterFirstLastStageBlock];

    /// <summary>The tap a config's image-encoder name means, or null when it names none.</summary>
    public static ResNetTap? ByName(string backboneName) => All.FirstOrDefault(t => t.BackboneName == backboneName);

    /// <summary>The image-encoder name a config gives for this tap: <c>resnet18</c>, or <c>resnet18-</c> and the tap's name.</summary>
    public string BackboneName => Name.Length == 0 ? ImageBackbone.ResNet18 : ImageBackbone.ResNet18 + "-" + Name;
    public int InputSize => ResNetImageEncoder.TileSize * Tiles;
    /// <summary>Tokens per side of the grid.</summary>
    public int Side => ResNetImageEncoder.TileSize / Stride * Tiles;
}

/// <summary>
/// The embedded default image encoder: ImageNet ResNet-18 from the Microsoft.ML.DnnImageFeaturizer.ResNet18 package
/// (CNTK export), frozen. Input is RGB in 0–255, [B, 3, 224, 224]; the package's preprocessing graph reorders to BGR
/// and subtracts the mean image. The output is a spatial feature map (by default the last, 7×7×512, before pooling) as
/// visual tokens in reading order, each plus a fixed 2-D sine-cosine position code so the Q-Former knows where it is;
/// another <see cref="ResNetTap"/> reads an earlier map (the shipped model reads the one before the last residual block)
/// or a larger input.
/// </summary>
public sealed class ResNetImageEncoder : IImageEncoder
{
    /// <summary>Who runs the graphs: ONNX Runtime on the CPU (the default there: 1.2–5× faster, measured), or libtorch
    /// operators (<see cref="OnnxGraphExecutor"/>: any device, and the reference the tests hold ONNX Runtime to).</summary>
    public enum Engine { OnnxRuntime, Libtorch }

    public const string PooledOutput = "Pooling395_Output_0";
    /// <summary>The side the exported graphs take.</summary>
    public const int TileSize = 224;
    public ResNetTap Tap { get; }
    /// <summary>The orientations whose maps <see cref="Encode"/> averages (one: the photo as it is).</summary>
    public IReadOnlyList<SquareOrientation> Orientations { get; }
    int IImageEncoder.TokenWidth => Tap.Width;

    readonly OnnxGraphExecutor? _preprocess;
    readonly OnnxGraphExecutor? _network;
    readonly OnnxRuntimeFeatureMap? _onnxRuntime;
    readonly Tensor _positions;

    /// <summary>A stable name for caches: the model and the weights' digest.</summary>
    public string Identity { get; }
    public string ModelPath { get; }
    public Device Device { get; }
    public Engine Runner { get; }

    /// <param name="engine">Default: ONNX Runtime on the CPU (on as many threads as torch is set to), libtorch elsewhere.</param>
    /// <param name="tap">Default: <see cref="ResNetTap.LastStage"/>.</param>
    /// <param name="orientations">How many of <see cref="SquareOrientation.All"/> the tokens average over (1, 2, 4 or 8).</param>
    public ResNetImageEncoder(string? modelDirectory = null, Device? device = null, Engine? engine = null, ResNetTap? tap = null, int orientations = 1)
    {
        Tap = tap ?? ResNetTap.LastStage;
        Orientations = SquareOrientation.First(orientations);
        modelDirectory ??= Path.Combine(AppContext.BaseDirectory, "DnnImageModels");
        ModelPath = Path.Combine(modelDirectory, "ResNet18Onnx", "ResNet18.onnx");
        string preprocessPath = Path.Combine(modelDirectory, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        if (!File.Exists(ModelPath) || !File.Exists(preprocessPath))
            throw new FileNotFoundException($"ResNet-18 ONNX files not found under '{modelDirectory}' (they come with the Microsoft.ML.DnnImageFeaturizer.ResNet18 package)");
        Device = device ?? CPU;
        Runner = engine ?? (Device.type == DeviceType.CPU ? Engine.OnnxRuntime : Engine.Libtorch);
        if (Runner == Engine.OnnxRuntime && Device.type != DeviceType.CPU) throw new NotSupportedException("the ONNX Runtime engine runs on the CPU only");
        if (Runner == Engine.OnnxRuntime)
        {
            _onnxRuntime = new OnnxRuntimeFeatureMap(preprocessPath, ModelPath, Tap.Output, get_num_threads());
        }
        else
        {
            _preprocess = new OnnxGraphExecutor(preprocessPath, Device);
            _network = new OnnxGraphExecutor(ModelPath, Device);
        }
        _positions = SineCosinePositions(Tap.Side, Tap.Width).to(Device).DetachFromDisposeScope();
        // The default's identity predates taps; keeping it keeps every feature cache built since valid.
        Identity = "resnet18-cntk-onnx-" + FileDigest.Short(ModelPath, 16) + (Tap.Name.Length == 0 ? "" : "-" + Tap.Name)
            + (Orientations.Count == 1 ? "" : $"-orientations{Orientations.Count}");
    }

    /// <summary>
    /// Visual tokens [B, side², width] for RGB pixels [B, 3, input, input] in 0–255 (49 × 512 from 224 px by default):
    /// the tapped map, averaged over <see cref="Orientations"/> (each turned back so its cells line up with the photo's).
    /// </summary>
    public Tensor Encode(Tensor rgb)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var features = Orientations.Count == 1                             // [B, width, side, side]
            ? FeatureMap(rgb)
            : stack(Orientations.Select(o => o.TurnBack(FeatureMap(o.Turn(rgb).contiguous()))).ToArray()).mean([0L]);
        var tokens = features.flatten(2).transpose(1, 2);                 // [B, side², width]
        return tokens.add(_positions.unsqueeze(0), Scalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>The tapped feature map [B, width, side, side] (the last stage's, before average pooling, by default).</summary>
    public Tensor FeatureMap(Tensor rgb)
    {
        int size = Tap.InputSize;
        if (rgb.dim() != 4 || rgb.shape[1] != 3 || rgb.shape[2] != size || rgb.shape[3] != size)
            throw new ArgumentException($"ResNet-18 takes [B, 3, {size}, {size}] pixels here, got [{string.Join(", ", rgb.shape)}]");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var rows = new List<Tensor>();
        for (int row = 0; row < Tap.Tiles; row++)
        {
            var tiles = new List<Tensor>();
            for (int col = 0; col < Tap.Tiles; col++)
                tiles.Add(TileMap(rgb.narrow(2, row * TileSize, TileSize).narrow(3, col * TileSize, TileSize)));
            rows.Add(cat(tiles, 3));
        }
        return cat(rows, 2).MoveToOuterDisposeScope();
    }

    /// <summary>The tapped map of 224-px pixels [B, 3, 224, 224]; the exported graphs are batch-1, so each image runs alone.</summary>
    Tensor TileMap(Tensor rgb)
    {
        var maps = new List<Tensor>();
        for (long i = 0; i < rgb.shape[0]; i++)
        {
            if (_onnxRuntime is not null)
            {
                var pixels = rgb[i].to(ScalarType.Float32, CPU).contiguous().data<float>().ToArray();
                var (values, shape) = _onnxRuntime.Run(pixels);
                maps.Add(tensor(values, shape.Select(d => (long)d).ToArray()).to(Device));
                continue;
            }
            var single = rgb.narrow(0, i, 1).to(ScalarType.Float32, Device);
            var prepared = _preprocess!.Run(single, "PreprocessedInput");
            maps.Add(_network!.Run(prepared, Tap.Output));
        }
        return cat(maps, 0);
    }

    /// <summary>Multiply-adds of one pass of an image from the network's input to the tapped map, counted on the graph (every tile's pass; <see cref="Encode"/> makes one per orientation).</summary>
    public long MultiplyAdds()
    {
        using var graph = new OnnxGraphExecutor(ModelPath);
        using var pixels = zeros(1, 3, TileSize, TileSize);
        return graph.MultiplyAdds(pixels, Tap.Output) * Tap.Tiles * Tap.Tiles;
    }

    /// <summary>Fixed 2-D sine-cosine codes [side², width]: half the channels encode the row, half the column.</summary>
    public static Tensor SineCosinePositions(int side, int width)
    {
        var codes = new float[side * side * width];
        int quarter = width / 4;
        for (int row = 0; row < side; row++)
            for (int col = 0; col < side; col++)
            {
                int token = row * side + col;
                for (int k = 0; k < quarter; k++)
                {
                    double frequency = 1.0 / Math.Pow(100, k / (double)quarter);
                    codes[token * width + k] = (float)Math.Sin(row * frequency);
                    codes[token * width + quarter + k] = (float)Math.Cos(row * frequency);
                    codes[token * width + 2 * quarter + k] = (float)Math.Sin(col * frequency);
                    codes[token * width + 3 * quarter + k] = (float)Math.Cos(col * frequency);
                }
            }
        return tensor(codes, [side * side, width]);
    }

    public void Dispose()
    {
        _preprocess?.Dispose();
        _network?.Dispose();
        _onnxRuntime?.Dispose();
        _positions.Dispose();
    }
}
