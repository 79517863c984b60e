using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using RsMoe.Model.Tests.Support;
using RsMoe.Model.Vision;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests.Vision;

/// <summary>The default image encoder against ONNX Runtime on real aerial photographs.</summary>
public sealed class ResNetImageEncoderTests : IClassFixture<ResNetImageEncoderTests.Encoder>
{
    public sealed class Encoder : IDisposable
    {
        /// <summary>The graphs as libtorch operators: the reference held to ONNX Runtime's own pooled output.</summary>
        public ResNetImageEncoder Model { get; } = new(engine: ResNetImageEncoder.Engine.Libtorch);
        /// <summary>The service's default: ONNX Runtime, answering with the inner feature map.</summary>
        public ResNetImageEncoder OnnxRuntime { get; } = new();
        public void Dispose()
        {
            Model.Dispose();
            OnnxRuntime.Dispose();
        }
    }

    readonly ResNetImageEncoder _encoder;
    readonly ResNetImageEncoder _onnxRuntime;
    readonly ITestOutputHelper _output;

    public ResNetImageEncoderTests(Encoder encoder, ITestOutputHelper output)
    {
        _encoder = encoder.Model;
        _onnxRuntime = encoder.OnnxRuntime;
        _output = output;
    }

    /// <summary>RGB 0–255 at 224×224 from a real file, decoded with libvips (shortest edge, centre crop).</summary>
    static float[] Pixels(string file)
    {
        using var image = NetVips.Image.NewFromFile(SharedData.Path("images", file));
        double scale = 224.0 / Math.Min(image.Width, image.Height);
        using var resized = image.Resize(scale, kernel: NetVips.Enums.Kernel.Cubic);
        using var cropped = resized.ExtractArea((resized.Width - 224) / 2, (resized.Height - 224) / 2, 224, 224);
        var interleaved = cropped.WriteToMemory<byte>();
        var chw = new float[3 * 224 * 224];
        for (int i = 0; i < 224 * 224; i++)
            for (int c = 0; c < 3; c++) chw[c * 224 * 224 + i] = interleaved[i * 3 + c];
        return chw;
    }

    [Theory]
    [InlineData("ucm/3.tif")]
    [InlineData("sydney/2.tif")]
    [InlineData("rsicd/00004.jpg")]
    public void PooledFeaturesMatchOnnxRuntime(string file)
    {
        var pixels = Pixels(file);
        float[] reference;
        using (var preprocess = new InferenceSession(Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx")))
        using (var network = new InferenceSession(_encoder.ModelPath))
        {
            using var prepared = preprocess.Run([NamedOnnxValue.CreateFromTensor("OriginalInput", new DenseTensor<float>(pixels, [1, 3, 224, 224]))]);
            var preparedTensor = prepared.First().AsTensor<float>().ToArray();
            using var pooled = network.Run([NamedOnnxValue.CreateFromTensor("Input247", new DenseTensor<float>(preparedTensor, [1, 3, 224, 224]))]);
            reference = pooled.First().AsTensor<float>().ToArray();
        }

        using var scope = NewDisposeScope();
        var map = _encoder.FeatureMap(tensor(pixels, [1, 3, 224, 224]));
        Assert.Equal(new long[] { 1, 512, 7, 7 }, map.shape);
        var ours = map.mean([2L, 3L]).flatten().data<float>().ToArray();
        double maxDiff = ours.Zip(reference, (a, b) => Math.Abs(a - b)).Max();
        double scale = reference.Max(Math.Abs);
        _output.WriteLine($"{file}: max |pooled diff| {maxDiff:E2} (max |feature| {scale:F2})");
        Assert.True(maxDiff < 1e-4 * Math.Max(1, scale), $"pooled features differ by {maxDiff}");
        // Real photos give a spread of activations, not a constant.
        Assert.True(ours.Max() - ours.Min() > 0.5);
    }

    /// <summary>The service's engine gives the libtorch executor's feature map (not only the pooled vector), on real photos.</summary>
    [Theory]
    [InlineData("ucm/3.tif")]
    [InlineData("rsicd/00004.jpg")]
    public void TheOnnxRuntimeEngineGivesTheSameFeatureMap(string file)
    {
        using var scope = NewDisposeScope();
        var pixels = tensor(Pixels(file), [1, 3, 224, 224]);
        Assert.Equal(ResNetImageEncoder.Engine.OnnxRuntime, _onnxRuntime.Runner);
        var reference = _encoder.FeatureMap(pixels);
        var map = _onnxRuntime.FeatureMap(pixels);
        Assert.Equal(reference.shape, map.shape);
        double maxDiff = (map - reference).abs().max().item<float>();
        double scale = reference.abs().max().item<float>();
        _output.WriteLine($"{file}: max |map diff| {maxDiff:E2} (max |feature| {scale:F2})");
        Assert.True(maxDiff < 1e-4 * Math.Max(1, scale), $"feature maps differ by {maxDiff}");
        Assert.Equal(_encoder.Identity, _onnxRuntime.Identity);
        Assert.Throws<ArgumentException>(() => _onnxRuntime.Encode(zeros(1, 3, 100, 100)));
    }

    [Fact]
    public void VisualTokensAreTheSpatialMapInReadingOrderWithPositions()
    {
        using var scope = NewDisposeScope();
        var pixels = tensor(Pixels("ucm/5.tif"), [1, 3, 224, 224]);
        var tokens = _encoder.Encode(pixels);
        Assert.Equal(new long[] { 1, 49, 512 }, tokens.shape);
        var map = _encoder.FeatureMap(pixels);
        var positions = ResNetImageEncoder.SineCosinePositions(7, 512);
        // Token (row 2, column 5) is the map at [2, 5] plus its position code.
        var expected = map[0, TensorIndex.Colon, 2, 5] + positions[2 * 7 + 5];
        Assert.True(tokens[0, 2 * 7 + 5].allclose(expected, 1e-5, 1e-5));
        Assert.StartsWith("resnet18-cntk-onnx-", _encoder.Identity);
        Assert.Throws<ArgumentException>(() => _encoder.Encode(zeros(1, 3, 100, 100)));
    }

    /// <summary>The third stage's map, read by ONNX Runtime, equals the libtorch executor's value of the same tensor.</summary>
    [Fact]
    public void TheThirdStageTapGives196TokensOfItsMap()
    {
        using var encoder = new ResNetImageEncoder(tap: ResNetTap.ThirdStage);
        using var reference = new ResNetImageEncoder(engine: ResNetImageEncoder.Engine.Libtorch, tap: ResNetTap.ThirdStage);
        using var scope = NewDisposeScope();
        var pixels = tensor(Pixels("ucm/5.tif"), [1, 3, 224, 224]);
        var map = encoder.FeatureMap(pixels);
        Assert.Equal(new long[] { 1, 256, 14, 14 }, map.shape);
        double maxDiff = (map - reference.FeatureMap(pixels)).abs().max().item<float>();
        Assert.True(maxDiff < 1e-4 * Math.Max(1, map.abs().max().item<float>()), $"third-stage maps differ by {maxDiff}");
        var tokens = encoder.Encode(pixels);
        Assert.Equal(new long[] { 1, 196, 256 }, tokens.shape);
        Assert.True(tokens[0, 3 * 14 + 9].allclose(map[0, TensorIndex.Colon, 3, 9] + ResNetImageEncoder.SineCosinePositions(14, 256)[3 * 14 + 9], 1e-5, 1e-5));
        Assert.NotEqual(_onnxRuntime.Identity, encoder.Identity);
        Assert.Equal(256, ((IImageEncoder)encoder).TokenWidth);
    }

    /// <summary>A 448-px input is four 224-px tiles: each quarter of the 14 × 14 map is the default map of its tile.</summary>
    [Fact]
    public void TheTiledTapLaysTheTilesMapsSideBySide()
    {
        using var encoder = new ResNetImageEncoder(tap: ResNetTap.LastStageTiled);
        using var scope = NewDisposeScope();
        var top = cat([tensor(Pixels("ucm/3.tif"), [1, 3, 224, 224]), tensor(Pixels("ucm/5.tif"), [1, 3, 224, 224])], 3);
        var bottom = cat([tensor(Pixels("rsicd/00004.jpg"), [1, 3, 224, 224]), tensor(Pixels("sydney/2.tif"), [1, 3, 224, 224])], 3);
        var pixels = cat([top, bottom], 2);
        var map = encoder.FeatureMap(pixels);
        Assert.Equal(new long[] { 1, 512, 14, 14 }, map.shape);
        var topRight = map.narrow(2, 0, 7).narrow(3, 7, 7);
        var bottomLeft = map.narrow(2, 7, 7).narrow(3, 0, 7);
        Assert.True(topRight.allclose(_onnxRuntime.FeatureMap(pixels.narrow(2, 0, 224).narrow(3, 224, 224)), 1e-6, 1e-6));
        Assert.True(bottomLeft.allclose(_onnxRuntime.FeatureMap(pixels.narrow(2, 224, 224).narrow(3, 0, 224)), 1e-6, 1e-6));
        Assert.Equal(new long[] { 1, 196, 512 }, encoder.Encode(pixels).shape);
        Assert.Throws<ArgumentException>(() => encoder.Encode(zeros(1, 3, 224, 224)));
    }

    /// <summary>
    /// The last residual block rebuilt as a trainable module, batch norms folded, turns the map before it into the
    /// graph's own last map, so tuning starts exactly from ImageNet's block.
    /// </summary>
    [Fact]
    public void TheLastBlockWithFoldedNormsReproducesTheGraphsLastMap()
    {
        using var before = new ResNetImageEncoder(tap: ResNetTap.BeforeLastBlock);
        using var block = ResNetBlock.FromOnnx(before.ModelPath, ResNetTap.LastStage.Output);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var pixels = cat([tensor(Pixels("ucm/5.tif"), [1, 3, 224, 224]), tensor(Pixels("rsicd/00004.jpg"), [1, 3, 224, 224])], 0);
        var input = before.FeatureMap(pixels);
        Assert.Equal(new long[] { 2, 512, 7, 7 }, input.shape);
        var expected = _onnxRuntime.FeatureMap(pixels);
        var actual = block.forward(input);
        double maxDiff = (actual - expected).abs().max().item<float>();
        Assert.True(maxDiff < 1e-4 * Math.Max(1, expected.abs().max().item<float>()), $"the rebuilt block differs from the graph by {maxDiff}");
        Assert.False(input.allclose(expected, 1e-2, 1e-2));
        Assert.Throws<InvalidDataException>(() => ResNetBlock.FromOnnx(before.ModelPath, ResNetTap.ThirdStage.Output + "_missing"));
    }

    /// <summary>
    /// The encoder's multiply-adds are counted on the graph's own shapes. This export's last stage has one identity
    /// block more than torchvision's ResNet-18 (three, not two), so its map before that block costs exactly torchvision's
    /// convolutions (stem 118,013,952 + stage one 462,422,016 + three later stages of 411,041,792 each, from the
    /// architecture), and the last block adds two 3 × 3 × 512 × 512 convolutions on 7 × 7.
    /// </summary>
    [Fact]
    public void MultiplyAddsAreCountedOnTheGraph()
    {
        using var before = new ResNetImageEncoder(tap: ResNetTap.BeforeLastBlock);
        Assert.Equal(1_813_561_344L, before.MultiplyAdds());
        Assert.Equal(1_813_561_344L + 2L * 3 * 3 * 512 * 512 * 7 * 7, _onnxRuntime.MultiplyAdds());
        using var tiled = new ResNetImageEncoder(tap: ResNetTap.LastStageTiled);
        Assert.Equal(4 * _onnxRuntime.MultiplyAdds(), tiled.MultiplyAdds());
    }

    [Fact]
    public void EachBackboneNameGetsItsTapAndInputSize()
    {
        using (var tiled = ImageBackbone.Create(ImageBackbone.ResNet18Tiled))
        {
            Assert.Equal(448, tiled.Preprocessing.Width);
            Assert.Equal(448, tiled.Preprocessing.ShortestEdge);
            using var tokens = tiled.Encode(File.ReadAllBytes(SharedData.Path("images", "ucm/3.tif")));
            Assert.Equal(new long[] { 1, 196, 512 }, tokens.shape);
        }
        using (var third = ImageBackbone.Create(ImageBackbone.ResNet18ThirdStage))
            Assert.Equal(224, third.Preprocessing.Width);
        // The last stage's inner maps: 49 tokens of 512 each, and each its own map (its own cache identity).
        foreach (var inner in new[] { ResNetTap.BeforeLastBlock, ResNetTap.AfterFirstLastStageBlock })
        {
            using var backbone = ImageBackbone.Create(inner.BackboneName);
            using var tokens = backbone.Encode(File.ReadAllBytes(SharedData.Path("images", "ucm/3.tif")));
            Assert.Equal(new long[] { 1, 49, 512 }, tokens.shape);
            Assert.EndsWith("-" + inner.Name, backbone.Identity);
        }
        using (var last = ImageBackbone.Create(ImageBackbone.ResNet18))
            Assert.Equal(_onnxRuntime.Identity, last.Identity);
        Assert.Throws<InvalidDataException>(() => ImageBackbone.Create("resnet50"));
    }

    /// <summary>
    /// Every orientation's turn is undone by its turn back, and the first 1, 2, 4 and 8 are groups (turning twice within
    /// one stays within it), so averaging over them treats each orientation in the set alike.
    /// </summary>
    [Fact]
    public void TheLeadingOrientationsAreGroupsAndEachTurnIsUndone()
    {
        using var scope = NewDisposeScope();
        var grid = arange(12f).view(1, 1, 3, 4);            // not square either: turns must keep what they do to the plane
        var square = arange(9f).view(1, 1, 3, 3);
        foreach (var o in SquareOrientation.All)
            Assert.True(Same(o.TurnBack(o.Turn(grid)), grid), o.Name);
        var turned = SquareOrientation.All.Select(o => o.Turn(square)).ToList();
        for (int i = 0; i < turned.Count; i++)
            for (int j = 0; j < i; j++)
                Assert.False(Same(turned[i], turned[j]), $"{SquareOrientation.All[i].Name} = {SquareOrientation.All[j].Name}");
        foreach (int count in SquareOrientation.Counts)
        {
            var group = SquareOrientation.First(count);
            foreach (var a in group)
                foreach (var b in group)
                {
                    var both = a.Turn(b.Turn(square));
                    Assert.Contains(group, c => Same(c.Turn(square), both));
                }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => SquareOrientation.First(3));
    }

    static bool Same(TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) => a.shape.SequenceEqual(b.shape) && a.allclose(b, 0, 0);

    /// <summary>
    /// Averaged over all eight orientations, the encoder's map of a photo turned a quarter is the photo's map turned a
    /// quarter, to float rounding (the network alone is far from it), so a photo's description cannot hang on which way
    /// up it was taken; the average has its own cache identity.
    /// </summary>
    [Fact]
    public void AveragingEveryOrientationMakesTheMapTurnWithThePhoto()
    {
        using var scope = NewDisposeScope();
        using var averaged = new ResNetImageEncoder(tap: ResNetTap.BeforeLastBlock, orientations: 8);
        using var single = new ResNetImageEncoder(tap: ResNetTap.BeforeLastBlock);
        var photo = tensor(Pixels("ucm/5.tif"), [1, 3, 224, 224]);
        var quarter = SquareOrientation.All.Single(o => o.Name == "quarter-turn");
        var positions = ResNetImageEncoder.SineCosinePositions(7, 512).unsqueeze(0);
        TorchSharp.torch.Tensor Map(ResNetImageEncoder encoder, TorchSharp.torch.Tensor rgb) => encoder.Encode(rgb).sub(positions).transpose(1, 2).reshape(1, 512, 7, 7);
        double Gap(ResNetImageEncoder encoder)
        {
            var expected = quarter.Turn(Map(encoder, photo));
            return (Map(encoder, quarter.Turn(photo).contiguous()) - expected).abs().max().item<float>() / expected.abs().max().item<float>();
        }
        double averagedGap = Gap(averaged), singleGap = Gap(single);
        _output.WriteLine($"relative gap: averaged {averagedGap:E2}, one orientation {singleGap:E2}");
        Assert.True(averagedGap < 1e-4, $"averaged map off by {averagedGap}");
        Assert.True(singleGap > 0.1, $"one orientation's map already turns with the photo ({singleGap})");
        Assert.Equal(single.Identity + "-orientations8", averaged.Identity);
        Assert.Throws<NotSupportedException>(() => ImageBackbone.Create(ImageBackbone.InstructBlipVision, "/nowhere", orientations: 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageBackbone.Create(ImageBackbone.ResNet18, orientations: 5));
    }
}
