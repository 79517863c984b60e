using RsMoe.ImageEncoder;
using RsMoe.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("image-encoder");
builder.AddImageEncoder();

var app = builder.Build();
app.MapGrpcService<ImageEncoderService>();
app.MapDefaultEndpoints();
app.Run();

public partial class Program;
