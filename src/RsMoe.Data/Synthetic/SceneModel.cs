namespace RsMoe.Data.Synthetic;

/// <summary>The nine regions of an image, in reading order, with the words captions and answers use for them.</summary>
public static class Regions
{
    public static readonly string[] Names = ["upper left", "top", "upper right", "left", "center", "right", "lower left", "bottom", "lower right"];

    public static int Of(double x, double y) => Math.Clamp((int)(y * 3), 0, 2) * 3 + Math.Clamp((int)(x * 3), 0, 2);

    public static (double X, double Y) Centre(int region) => ((region % 3 + 0.5) / 3, (region / 3 + 0.5) / 3);

    /// <summary>"in the upper left of the image", "at the top of the image", "in the center of the image" …</summary>
    public static string Phrase(int region, Random random) => region switch
    {
        1 => random.Next(2) == 0 ? "at the top of the image" : "in the upper part of the image",
        7 => random.Next(2) == 0 ? "at the bottom of the image" : "in the lower part of the image",
        3 => random.Next(2) == 0 ? "on the left side of the image" : "in the left part of the image",
        5 => random.Next(2) == 0 ? "on the right side of the image" : "in the right part of the image",
        4 => random.Next(2) == 0 ? "in the center of the image" : "in the middle of the image",
        _ => random.Next(2) == 0 ? $"in the {Names[region]} of the image" : $"in the {Names[region]} corner of the image",
    };
}

/// <summary>One placed object: its class, colour, centre (0..1), size (pixels), rotation and area drawn.</summary>
public sealed record PlacedObject(string Class, string Colour, double X, double Y, double Length, double Width, double Angle);

/// <summary>A group of objects of one class and colour, the unit captions and questions talk about.</summary>
public sealed class ObjectGroup
{
    public required string Class { get; init; }
    public required string Colour { get; init; }
    public required string Size { get; init; }          // small, medium, large
    public required int Region { get; set; }
    public List<PlacedObject> Objects { get; } = [];
    public long PixelArea { get; set; }
    public int Count => Objects.Count;
    public (double X, double Y) Centroid => Objects.Count == 0 ? Regions.Centre(Region) : (Objects.Average(o => o.X), Objects.Average(o => o.Y));
}

/// <summary>A road or river: a band across the image with a direction.</summary>
public sealed record LinearFeature(string Class, string Direction, double X0, double Y0, double X1, double Y1, double Width, string Colour);

/// <summary>A relation between two groups, as captions state it.</summary>
public sealed record Relation(string Kind, string Subject, string Object, string? Second = null);

/// <summary>Everything true about one generated scene.</summary>
public sealed class Scene
{
    public required string Id { get; init; }
    public required string Theme { get; init; }
    public required int Size { get; init; }
    public required string Background { get; init; }
    public List<ObjectGroup> Groups { get; } = [];
    public List<LinearFeature> Lines { get; } = [];
    public List<Relation> Relations { get; } = [];
    public Dictionary<string, long> ClassArea { get; } = [];
}
